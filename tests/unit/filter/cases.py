"""The 64 crafted rows of the side-by-side check of the original CommitPackFT scripts, one property each.

``ORIGINAL`` is where the original code drops each row (file and line of
``commitpackft_filters1.py`` / ``commitpackft_filters2.py``) or ``KEEP``; ``PAPER_RULE`` maps
those lines to this project's rule numbers. Rule 3 is the reference reading (the
language's original list, with or without the leading dot). ``IMPROVED`` is the rule
that drops the row with every correction on.

Token counts are made exact with a byte tokenizer (one token per UTF-8 byte, plus one
for the end-of-text token): the base row's ``old + <eos> + new`` is 595 tokens long.
"""

from __future__ import annotations

from typing import Any

KEEP = "KEEP"
BASE_OLD = "def check(value)\n  value.nil? ? [] : [value]\nend\n" * 6
BASE_NEW = BASE_OLD.replace("[value]", "[value] ", 1) + "# ok\n"
HEX40 = "0123456789abcdef0123456789abcdef01234567"
HEX64 = "0123456789abcdef" * 4


def _tokens(n: int) -> dict[str, str]:
    """Contents whose ``old + <eos> + new`` is ``n`` tokens long with the byte tokenizer."""
    old = "a = 1\n" * ((n - 1) // 12)
    new = "b" * (n - 1 - len(old))
    return {"old_contents": old, "new_contents": new}


#: id -> (what it checks, overrides of the base row, original's decision, decision with every correction).
CASES: dict[str, tuple[str, dict[str, Any], str, int | None]] = {
    "r01": ("base row (Ruby, passes every rule)", {}, KEEP, None),
    "r02": ("R1 old 49,999 chars (then too many tokens)", {"old_contents": "x" * 49_999}, "filters1.py:234", 8),
    "r03": ("R1 old 50,000 chars", {"old_contents": "x" * 50_000}, "filters1.py:178", 1),
    "r04": ("R1 new empty", {"new_contents": ""}, "filters1.py:182", 1),
    "r05": ("R1 old == new", {"new_contents": BASE_OLD}, "filters1.py:186", 1),
    "r06": ("R2 '#' in subject", {"subject": "Add a check for empty input (#12)"}, "filters1.py:190", 2),
    "r07": ("R3 Python src/x.py (canonical)", {"new_file": "src/x.py", "lang": "Python"}, KEEP, None),
    "r08": ("R3 Python src/x.pyw (non-canonical)", {"new_file": "src/x.pyw", "lang": "Python"}, "filters1.py:196", 3),
    "r09": ("R3 C++ x.cc", {"new_file": "x.cc", "lang": "C++"}, "filters1.py:196", None),
    "r10": ("R3 HTML index.htm", {"new_file": "index.htm", "lang": "HTML"}, "filters1.py:196", None),
    "r11": ("R3 Shell run.sh", {"new_file": "run.sh", "lang": "Shell"}, KEEP, None),
    "r12": ("R3 Shell run.ksh", {"new_file": "run.ksh", "lang": "Shell"}, "filters1.py:196", None),
    "r13": ("R3 Ruby a.d/Rakefile (dot only in dir)", {"new_file": "a.d/Rakefile"}, KEEP, 3),
    "r14": ("R3 Ruby lib/.hidden (dotfile)", {"new_file": "lib/.hidden"}, "filters1.py:202", 3),
    "r15": ("R3 Ruby lib/Rakefile (no dot)", {"new_file": "lib/Rakefile"}, "filters1.py:198", 3),
    "r16": ("R4 stem 'calc' in subject", {"new_file": "lib/calc.rb", "subject": "Add a check for empty calc input"},
            "filters1.py:202", 4),
    "r17": ("R4 foo.spec.rb, 'spec' in subject",
            {"new_file": "lib/foo.spec.rb", "subject": "Add a check for empty spec input"}, "filters1.py:202", None),
    "r18": ("R4 'Calc' (case) in subject", {"new_file": "lib/calc.rb", "subject": "Add a check for empty Calc input"},
            KEEP, None),
    "r19": ("R5 10 chars, 5 words", {"subject": "Ad a b c d"}, "filters1.py:211", 5),
    "r20": ("R5 11 chars, 5 words", {"subject": "Add a b c d"}, KEEP, None),
    "r21": ("R5 4 words", {"subject": "Add a check here"}, "filters1.py:211", 5),
    "r22": ("R5 999 chars", {"subject": "Add a check for " + "y" * 983}, KEEP, None),
    "r23": ("R5 1000 chars", {"subject": "Add a check for " + "y" * 984}, "filters1.py:211", 5),
    "r24": ("R6 '[core] parser: Fix ...' (tag then scope)", {"subject": "[core] parser: Fix the check for empty input"},
            KEEP, None),
    "r25": ("R6 '[skip ci] Add ...'", {"subject": "[skip ci] Add a check for empty input"}, KEEP, None),
    "r26": ("R6 '[Skip CI] Add ...' (case)", {"subject": "[Skip CI] Add a check for empty input"}, "filters1.py:221",
            None),
    "r27": ("R6 trailing [tag]", {"subject": "Add a check for empty input [docs]"}, KEEP, None),
    "r28": ("R6 'core: Add ...'", {"subject": "core: Add a check for empty input"}, KEEP, None),
    "r29": ("R6 '[tag] Fix it now' -> 3 words", {"subject": "[tag] Fix it now [later]"}, "filters1.py:217", 6),
    "r30": ("R7 lower-case start", {"subject": "add a check for empty input"}, "filters1.py:221", 7),
    "r31": ("R8 49 tokens", _tokens(49), "filters1.py:234", 8),
    "r32": ("R8 50 tokens", _tokens(50), KEEP, None),
    "r33": ("R8 768 tokens", _tokens(768), KEEP, None),
    "r34": ("R8 769 tokens", _tokens(769), "filters1.py:234", 8),
    "r35": ("R9 'Plug in ...'", {"subject": "Plug in a check for empty input"}, "filters1.py:272", None),
    "r36": ("R9 'Speed up ...' (two-word verb)", {"subject": "Speed up the check for empty input"}, KEEP, None),
    "r37": ("R9 'Fixed ...' (not imperative)", {"subject": "Fixed a check for empty input"}, "filters1.py:272", 9),
    "r38": ("R11 'Merge branch ...'", {"subject": "Merge branch main into the feature"}, "filters1.py:272", 11),
    "r39": ("R11 Signed-off-by in subject", {"subject": "Add a check Signed-off-by: Bob"}, "filters1.py:272", 11),
    "r40": ("R11 signed-off-by only in message",
            {"message": "Add a check for empty input\n\nSigned-off-by: Bob <bob@example.com>\n"}, KEEP, None),
    "r41": ("R13 cherry picked", {"subject": "Add a check (cherry picked from commit abc)"}, "filters2.py:19", 13),
    "r42": ("R13 40 lowercase hex", {"subject": f"Revert {HEX40} for empty input"}, "filters2.py:25", 13),
    "r43": ("R13 64 hex (sha256)", {"subject": f"Revert {HEX64} for empty input"}, "filters2.py:25", None),
    "r44": ("R13 40 UPPERCASE hex", {"subject": f"Revert {HEX40.upper()} for empty input"}, KEEP, 13),
    "r45": ("R13 trailing [ci skip]", {"subject": "Add a check for empty input [ci skip]"}, KEEP, None),
    "r46": ("R13 inner [ci skip]", {"subject": "Add docs [ci skip] for the parser"}, KEEP, None),
    "r47": ("R14 'Bump version ...'", {"subject": "Bump version of the parser gem"}, "filters2.py:42", 14),
    "r48": ("R14 'Set Version ...' (capital V)", {"subject": "Set Version of the parser gem"}, KEEP, 14),
    "r49": ("R14 'BUMP ...'", {"subject": "BUMP the version of parser gem"}, KEEP, 14),
    "r50": ("R15 ' i ' inside", {"subject": "Fix the check i wrote for input"}, "filters2.py:51", 15),
    "r51": ("R15 'i' at the end", {"subject": "Fix the check that was written by i"}, KEEP, 15),
    "r52": ("R15 typographic i\u2019ve", {"subject": "Fix the check i\u2019ve written for input"}, KEEP, 15),
    "r53": ("R15 'for ..., thanks to' (for first)", {"subject": "Add a check for input, thanks to Bob"},
            "filters2.py:61", None),
    "r54": ("R15 'performance, thanks to' (for in word)", {"subject": "Improve the performance, thanks to Bob"},
            "filters2.py:61", None),
    "r55": ("R15 'Thanks to Bob FOR' (case)", {"subject": "Add the check, thanks to Bob FOR it"}, KEEP, 15),
    "r56": ("R15 'wipe' (wip substring)", {"subject": "Fix the wipe of the cache folder"}, "filters2.py:126", None),
    "r57": ("R15 www. link", {"subject": "Add a link to www.example.com docs"}, KEEP, 15),
    "r58": ("R15 specific msg 1", {"subject": "Fix that bug where things didn't work but now they should"},
            "filters2.py:85", 15),
    "r59": ("R15 specific msg 2", {"subject": "Put the thingie in the thingie"}, "filters2.py:85", 15),
    "r60": ("R15 specific msg 3", {"subject": "Add a beter commit message"}, "filters2.py:85", 15),
    "r61": ("R15 'debug 2'", {"subject": "Fix the debug 2 output for input"}, "filters2.py:98", 15),
    "r62": ("R15 http:// URL", {"subject": "Add a link to http://example.com now"}, "filters2.py:135", 15),
    "r63": ("R16 [ci skip] leaves 4 words", {"subject": "Add a check here [ci skip]"}, KEEP, None),
    "r64": ("R16 [ci skip] leaves 3 words", {"subject": "Add checks [ci skip] now"}, "filters2.py:153", 16),
}

#: The original's file:line -> this project's rule (rules 9-12 share one filter in the original: the case's check).
PAPER_RULE = {
    "filters1.py:178": 1, "filters1.py:182": 1, "filters1.py:186": 1, "filters1.py:190": 2, "filters1.py:196": 3,
    "filters1.py:198": 3, "filters1.py:202": 4, "filters1.py:211": 5, "filters1.py:217": 6, "filters1.py:221": 7,
    "filters1.py:234": 8, "filters2.py:19": 13, "filters2.py:25": 13, "filters2.py:42": 14, "filters2.py:51": 15,
    "filters2.py:61": 15, "filters2.py:85": 15, "filters2.py:98": 15, "filters2.py:126": 15, "filters2.py:135": 15,
    "filters2.py:153": 16,
}
#: Rows the original's one message filter (filters1.py:272) drops, by the check that fires.
FILTER_MESSAGES_RULE = {"r35": 9, "r37": 9, "r38": 11, "r39": 11}

#: Subjects after the filter where cleaning changed them (the original leaves two spaces where [ci skip] was).
PAPER_SUBJECTS = {
    "r24": "Fix the check for empty input",
    "r25": "Add a check for empty input",
    "r27": "Add a check for empty input",
    "r28": "Add a check for empty input",
    "r45": "Add a check for empty input",
    "r46": "Add docs  for the parser",
    "r63": "Add a check here",
}
IMPROVED_SUBJECTS = {**PAPER_SUBJECTS, "r46": "Add docs for the parser", "r26": "Add a check for empty input"}


def base_row(**overrides: Any) -> dict[str, Any]:
    """The base row r01 (Ruby) with ``overrides``; ``new_file`` also sets ``old_file``."""
    row = {
        "commit": HEX40,
        "old_file": "lib/widget.rb",
        "new_file": "lib/widget.rb",
        "old_contents": BASE_OLD,
        "new_contents": BASE_NEW,
        "subject": "Add a check for empty input",
        "message": "Add a check for empty input\n",
        "lang": "Ruby",
        "license": "mit",
        "repos": ["example/widget"],
    }
    row.update(overrides)
    if "new_file" in overrides:
        row["old_file"] = overrides["new_file"]
    if "subject" in overrides and "message" not in overrides:
        row["message"] = overrides["subject"] + "\n"
    return row


def paper_rule(case: str) -> int | None:
    """The rule that drops ``case`` under the paper profile (None: kept), from the original's line."""
    where = CASES[case][2]
    if where == KEEP:
        return None
    return FILTER_MESSAGES_RULE.get(case) or PAPER_RULE[where]
