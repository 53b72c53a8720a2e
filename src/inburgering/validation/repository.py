"""Where the validation tools find the repository's configuration (they run from a checkout)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "config" / "policies.yaml"
