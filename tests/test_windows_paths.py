"""RA's data drive is Windows: `G:/...` and `G:\\...` roots resolve, checked on any machine."""

from __future__ import annotations

from pathlib import PureWindowsPath

import pytest

from inburgering.cbs.catalogue import _pattern_regex
from inburgering.config import ConfigError, resolve_data_root

PROJECT = PureWindowsPath("H:/projects/inburgering")
PATTERN = "Bevolking/GBAPERSOONTAB/{year}/GBAPERSOON{year}TABV{version}.{ext}"


@pytest.mark.parametrize("root", ["G:/", "G:\\", "g:/", "G:\\\\"])
def test_drive_roots_are_absolute(root):
    resolved = resolve_data_root(root, PROJECT, PureWindowsPath)
    assert resolved.is_absolute() and resolved.drive.upper() == "G:"
    assert str(resolved / "Bevolking").upper().startswith("G:\\BEVOLKING")


@pytest.mark.parametrize("root", ["G:/Bevolking", "G:\\Bevolking", "G:/Bevolking/"])
def test_slash_styles_give_one_folder(root):
    assert resolve_data_root(root, PROJECT, PureWindowsPath) == PureWindowsPath("G:/Bevolking")


def test_relative_root_is_below_the_workflow_folder():
    resolved = resolve_data_root("results/synthetic/microdata", PROJECT, PureWindowsPath)
    assert resolved == PureWindowsPath("H:/projects/inburgering/results/synthetic/microdata")


@pytest.mark.parametrize("root", ["G:", "G:Bevolking"])
def test_drive_relative_root_is_refused_with_the_key(root):
    with pytest.raises(ConfigError, match=r"data\.root: .*no slash after the drive.*'G:/'"):
        resolve_data_root(root, PROJECT, PureWindowsPath)


def test_catalogue_patterns_match_files_below_a_windows_root():
    root = resolve_data_root("G:\\", PROJECT, PureWindowsPath)
    found = PureWindowsPath("G:\\Bevolking\\GBAPERSOONTAB\\2022\\GBAPERSOON2022TABV3.SAV")
    relative = found.relative_to(root).as_posix()
    match = _pattern_regex(PATTERN, ["sav", "dta"]).match(relative)
    assert match and match["year"] == "2022" and match["version"] == "3"


def test_start_up_check_refuses_a_drive_relative_root(repo_root):
    from inburgering.config import check_all, load_config

    config = load_config(repo_root / "config" / "config.yaml")
    config["data"]["root"] = "G:"
    with pytest.raises(ConfigError, match=r"data\.root"):
        check_all(config, base=repo_root)
