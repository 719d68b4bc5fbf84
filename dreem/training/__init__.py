"""dreem.training: loss, Lightning module, factories and ``train_model`` (import submodules)."""
