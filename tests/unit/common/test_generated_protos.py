"""The checked-in generated code matches protos/ (python scripts/gen_protos.py regenerates it)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_code_matches_protos() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_drift_is_detected(tmp_path: Path) -> None:
    """Editing a generated file by hand makes the check fail."""
    generated = next((ROOT / "octopack").rglob("*_pb2.py"))
    original = generated.read_text()
    try:
        generated.write_text(original + "\n# hand edit\n")
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1
        assert generated.name in proc.stderr
    finally:
        generated.write_text(original)
