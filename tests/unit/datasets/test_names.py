"""Dataset names, versions and name@version references."""

from __future__ import annotations

import pytest

from octopack.common.errors import InvalidArgument
from octopack.datasets.names import check_name, check_version, parse_ref, version_number


@pytest.mark.parametrize("name", ["a", "commitpackft", "cp-2024.06_x", "0abc", "a" * 63])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "Commitpack", "-x", ".x", "_x", "a/b", "a b", "a@b", "a" * 64, "ü"]
)
def test_invalid_names_say_the_rule(name: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_name(name)
    assert "a-z, 0-9" in err.value.message
    assert "^[a-z0-9][a-z0-9._-]{0,62}$" in err.value.message


def test_versions() -> None:
    assert check_version("v3") == "v3"
    assert check_version("2024-06-01") == "2024-06-01"
    with pytest.raises(InvalidArgument, match="reserved"):
        check_version("latest")
    with pytest.raises(InvalidArgument, match="version"):
        check_version("V3")
    assert version_number("v12") == 12
    assert version_number("v0") is None
    assert version_number("smoke") is None
    assert version_number("v01") is None


def test_parse_ref() -> None:
    assert parse_ref("cp@v3") == ("cp", "v3")
    assert parse_ref("cp") == ("cp", None)
    assert parse_ref("cp@latest") == ("cp", None)
    assert parse_ref(" cp@v1 ") == ("cp", "v1")
    with pytest.raises(InvalidArgument, match="empty version"):
        parse_ref("cp@")
    with pytest.raises(InvalidArgument, match="empty"):
        parse_ref("")
    with pytest.raises(InvalidArgument, match="dataset name"):
        parse_ref("Bad@v1")
