"""A torchrun worker for the restart test in test_ddp.py: the real pretraining, whose process
dies right after its first epoch on torchrun's first attempt only (through run_pretrain's
``on_epoch_end``), so the test needs no race with a kill from outside under load. Test-only:
the package ships no fault injector.

Usage: ``torchrun ... tests/pretrain_fault_worker.py CONFIG.yaml DATA_ROOT OUT.safetensors``
"""

from __future__ import annotations

import os
import sys

from skelprompt.pretrain.config import PretrainConfig
from skelprompt.pretrain.loop import run_pretrain

EXIT_CODE = 17


def die_after_first_epoch(epoch: int) -> None:
    if epoch == 0 and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0":
        os._exit(EXIT_CODE)  # no clean-up, as a killed process


if __name__ == "__main__":
    config, data_root, out = sys.argv[1:4]
    cfg = PretrainConfig.from_yaml(config)
    run_pretrain(cfg, out, data_root, progress=False, device="cpu", on_epoch_end=die_after_first_epoch)
