"""Checkpoint files are written without zip CRC-32s (dreem.utils.torch_save): torch.load
reads them, memory-mapped or not, and the process-wide option is left as it was."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from dreem.utils.torch_save import save_torch_file

serialization = torch.serialization
needs_option = pytest.mark.skipif(
    not hasattr(serialization, "set_crc32_options"), reason="torch without the CRC option"
)


def _state() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"w": torch.randn(300, 40, generator=g), "step": 7, "names": ["a", "b"]}


@needs_option
def test_saved_file_loads_equal_and_has_no_checksums(tmp_path: Path) -> None:
    state = _state()
    path = tmp_path / "c.ckpt"
    save_torch_file(state, path)
    for mmap in (False, True):
        back = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        assert torch.equal(back["w"], state["w"]) and back["step"] == 7
        assert back["names"] == ["a", "b"]
    with zipfile.ZipFile(path) as z:
        sizes = {i.filename: (i.CRC, i.file_size) for i in z.infolist()}
    data = [crc for name, (crc, size) in sizes.items() if name.endswith("/data/0")]
    assert data == [0]  # the tensor's record: written without its checksum
    torch.save(state, tmp_path / "plain.ckpt")  # the option is back on for others' saves
    with zipfile.ZipFile(tmp_path / "plain.ckpt") as z:
        assert all(i.CRC != 0 for i in z.infolist() if i.file_size)


@needs_option
def test_option_is_restored_after_a_failed_save(tmp_path: Path) -> None:
    before = serialization.get_crc32_options()
    with pytest.raises(RuntimeError, match="does not exist"):
        save_torch_file(_state(), tmp_path / "no" / "such" / "dir" / "c.ckpt")
    assert serialization.get_crc32_options() == before
