"""The ``model`` section: Global Tracking Transformer, embeddings and visual encoder.

Defaults follow the reference ``train.yaml`` except where marked ``DEVIATION`` (reason given).
Keys marked ``EXTENSION`` are not in the DREEM reference; their defaults were chosen by
measurement (docs/deviations.md) and reproduce the reference behaviour where one exists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import field_validator

from dreem.config.base import OpenSection, Section
from dreem.config.types import (
    Bool,
    Float,
    Int,
    OptFloat,
    OptInt,
    OptMapping,
    OptStr,
    Str,
    doc,
    one_of,
)

EMBEDDING_MODES = ("fixed", "learned", "off")
_MODE_ALIASES = {"None": "off", None: "off"}
Mode = Annotated[Literal["fixed", "learned", "off"], one_of(EMBEDDING_MODES, _MODE_ALIASES)]


class MLPConfig(Section):
    """MLP projecting a multi-point embedding to d_model; required when n_points > 1."""

    hidden_dims: OptInt = doc(None, "MLP hidden-layer width; null = d_model", ge=1)
    num_layers: Int = doc(2, "number of linear layers (0 = identity)", ge=0)
    dropout: Float = doc(0.0, "dropout after each hidden layer", ge=0, le=1)


class PosEmbedding(Section):
    """Spatial (box) embedding; null disables it (mode off)."""

    mode: Mode = doc(
        "learned", "fixed (sinusoidal), learned (lookup table) or off; 'None'/null = off"
    )
    n_points: Int = doc(1, "number of anchor points embedded per instance", ge=1)
    temperature: Float = doc(10000.0, "sinusoid temperature (fixed mode)", ge=0)
    normalize: Bool = doc(True, "normalise positions before the sinusoid (fixed mode)")
    scale: OptFloat = doc(None, "scale after normalising; null = 2*pi (fixed mode)")
    emb_num: Int = doc(16, "lookup-table size (learned mode)", ge=1)
    over_boxes: Bool = doc(True, "embed the 4 box coordinates (true) or centre+size (false)")
    mlp_cfg: MLPConfig | None = doc(None, "MLP after the embedding (needed for n_points > 1)")


class TempEmbedding(Section):
    """Temporal (frame offset) embedding; null disables it (mode off)."""

    # DEVIATION: train.yaml uses mode 'learned'; the reference's learned table only told
    # frame 0 from the rest (spec §3.2 [bug]); the fixed sinusoid distinguishes every offset.
    mode: Mode = doc(
        "fixed", "fixed (sinusoidal), learned (lookup table) or off; 'None'/null = off"
    )
    temperature: Float = doc(10000.0, "sinusoid temperature (fixed mode)", ge=0)
    emb_num: Int = doc(16, "lookup-table size (learned mode)", ge=1)


def _off_if_null(value: Any) -> Any:
    return {"mode": "off"} if value is None else value


class EmbeddingMeta(Section):
    """Spatiotemporal embeddings; null disables both."""

    pos: PosEmbedding = doc(PosEmbedding(), "spatial embedding")
    temp: TempEmbedding = doc(TempEmbedding(), "temporal embedding")
    embedding_agg_method: Annotated[
        Literal["average", "stack", "concatenate"],
        one_of(("average", "stack", "concatenate")),
    ] = doc("average", "how pos and temp embeddings are combined (only average is implemented)")
    use_fourier: Bool = doc(False, "Fourier features of positions (not implemented)")

    _null_is_off = field_validator("pos", "temp", mode="before")(_off_if_null)


class EncoderConfig(OpenSection):
    """Visual encoder; unknown keys are passed to the backbone constructor."""

    model_name: Str = doc("resnet18", "backbone name (timm.list_models(); torchvision: resnets)")
    backend: Annotated[
        Literal["timm", "torchvision"],
        one_of(("timm", "torchvision"), {"torch": "torchvision"}),
    ] = doc("timm", "library providing the backbone ('torch' → torchvision)")
    in_chans: Int = doc(3, "input channels (3 × number of anchors for multi-anchor crops)", ge=1)
    pretrained: Bool = doc(False, "load pretrained backbone weights (from the local cache)")
    encoder_type: Annotated[
        Literal["resnet", "descriptor", "dino"] | None,
        one_of(("resnet", "descriptor", "dino", None)),
    ] = doc(None, "alternative encoder family; null = backbone from model_name")
    encoder_type_args: OptMapping = doc(None, "kwargs for the encoder_type class")
    ndim: Int = doc(5, "descriptor feature size (descriptor encoder / Fourier path)", ge=1)


class ModelConfig(Section):
    """Global Tracking Transformer."""

    ckpt_path: OptStr = doc(None, "checkpoint to initialise from (fine-tune)")
    d_model: Int = doc(128, "embedding size of the transformer", ge=1)
    nhead: Int = doc(1, "attention heads per transformer layer", ge=1)
    num_encoder_layers: Int = doc(1, "transformer encoder layers", ge=0)
    num_decoder_layers: Int = doc(1, "transformer decoder layers", ge=1)
    dropout: Float = doc(0.1, "dropout in the transformer layers", ge=0, le=1)
    activation: Annotated[Literal["relu", "gelu", "glu"], one_of(("relu", "gelu", "glu"))] = doc(
        "relu", "transformer activation"
    )
    return_intermediate_dec: Bool = doc(True, "return (and train on) every decoder layer")
    norm: Bool = doc(False, "LayerNorm on encoder/decoder outputs")
    num_layers_attn_head: Int = doc(1, "MLP layers in the attention head", ge=1)
    dropout_attn_head: Float = doc(0.1, "dropout in the attention head", ge=0, le=1)
    return_embedding: Bool = doc(False, "also return the spatiotemporal embeddings")
    decoder_self_attn: Bool = doc(True, "self-attention in the decoder")
    embedding_meta: EmbeddingMeta = doc(EmbeddingMeta(), "spatiotemporal embeddings")
    encoder_cfg: EncoderConfig = doc(EncoderConfig(), "visual encoder")
    # EXTENSION (docs/deviations.md, "Measured choices"): reference style re-adds the
    # positional embedding at every layer; adding it once measured fewer switches.
    pos_every_layer: Bool = doc(False, "EXTENSION: re-add positional embeddings every layer")
    # EXTENSION: 1/sqrt(d) in the association head made training 2x slower here.
    attn_head_scale: Bool = doc(False, "EXTENSION: scale association logits by 1/sqrt(d)")

    @field_validator("embedding_meta", mode="before")
    @classmethod
    def _meta_null_is_off(cls, value: Any) -> Any:
        return {"pos": {"mode": "off"}, "temp": {"mode": "off"}} if value is None else value
