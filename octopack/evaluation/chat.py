"""A chat model's answer as a continuation of the code the prompt starts with.

Through a chat API the model answers the question in a new turn, usually with the whole
function in a fenced code block, instead of continuing the prompt's code base. To score
it like every other generation, :func:`continuation` takes the answer's code (the first
fenced block that mentions the entry point, else the first block, else the whole text),
finds the entry point's definition and returns what follows its header: the body, which
continues the code base exactly as a completion would. The usual post-processing (stop
sequences, first function) then applies. An answer without the definition is returned as
it is (it will most likely fail, as it should).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PYTHON_DEF = r"^([ \t]*)(?:async[ \t]+)?def[ \t]+{name}[ \t]*\("


def code_of(answer: str, entry_point: str = "") -> str:
    """The code in an answer: a fenced block (the one naming ``entry_point`` first), else the text."""
    blocks = _FENCE.findall(answer)
    if not blocks:
        return answer
    for block in blocks:
        if entry_point and re.search(rf"\b{re.escape(entry_point)}\b", block):
            return str(block)
    return str(blocks[0])


def _after_python_header(code: str, entry_point: str) -> str | None:
    match = re.search(_PYTHON_DEF.format(name=re.escape(entry_point)), code, re.M)
    if match is None:
        return None
    indent = match.group(1)
    depth = 0
    for i in range(match.end() - 1, len(code)):
        char = code[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == ":" and depth == 0:
            end = code.find("\n", i)
            body = "" if end == -1 else code[end:]
            # A nested definition (inside a class) is dedented to the prompt's level.
            if indent:
                body = "\n".join(line[len(indent):] if line.startswith(indent) else line
                                 for line in body.split("\n"))
            return body
    return None


#: What may stand between a definition's parameter list and its opening brace: a return type
#: (Go's may be parenthesised or ``interface{}``), ``-> T`` (Rust), ``=>`` (a JavaScript arrow),
#: ``const``/``throws``.
_BETWEEN = re.compile(r"\s*(?:\([^()]*\)|->[^;{}=]*|=>|const\b|throws\b[\w.,\s]*|\{\}|[\w\[\]<>*&:.,\s])*")


#: From a function's name to its parameter list: generics (``<'a>``, ``<T>``), or ``= (async) (function)``.
_TO_PARAMS = r"(?:<[^<>()]*>\s*)?(?:=\s*(?:async\s*)?(?:function\s*)?)?\("


def _closing_paren(code: str, start: int) -> int:
    """The index of the ``)`` that closes the ``(`` at ``start`` (-1 when it never closes)."""
    depth = 0
    for i in range(start, len(code)):
        if code[i] == "(":
            depth += 1
        elif code[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _in_comment(code: str, at: int) -> bool:
    """Whether ``at`` lies in a ``//`` line comment or a ``/* */`` block (where examples call the function)."""
    line = code[code.rfind("\n", 0, at) + 1 : at]
    return "//" in line or code.rfind("/*", 0, at) > code.rfind("*/", 0, at)


def _body_brace(code: str, start: int) -> int:
    """The first ``{`` from ``start`` that opens a body (Go's ``interface{}``/``struct{}`` types are skipped)."""
    brace = code.find("{", start)
    while brace != -1 and code.startswith("{}", brace) and re.search(r"\b(?:interface|struct)\s*$", code[start:brace]):
        brace = code.find("{", brace + 2)
    return brace


_KEYWORDS = frozenset({"if", "for", "while", "switch", "catch", "return", "else", "do", "match", "loop", "sizeof"})


def defined_name(prefix: str, language: str) -> str:
    """The function whose header ends the code base (the one the answer continues); "" if none."""
    if language == "python":
        found = re.findall(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", prefix, re.M)
        return found[-1] if found else ""
    name = ""
    for match in re.finditer(r"\b(\w+)\s*" + _TO_PARAMS, prefix):
        if match.group(1) in _KEYWORDS or _in_comment(prefix, match.start()):
            continue
        close = _closing_paren(prefix, match.end() - 1)
        brace = _body_brace(prefix, close) if close != -1 else -1
        if brace != -1 and _BETWEEN.fullmatch(prefix, close + 1, brace):
            name = match.group(1)
    return name


def _after_brace_header(code: str, entry_point: str, language: str) -> str | None:
    """The body after the first *definition* of ``entry_point`` (a call or a comment mentioning it is skipped)."""
    for match in re.finditer(rf"\b{re.escape(entry_point)}\b\s*" + _TO_PARAMS, code):
        if _in_comment(code, match.start()):
            continue
        close = _closing_paren(code, match.end() - 1)
        if close == -1:
            return None
        brace = _body_brace(code, close)
        if brace == -1 or not _BETWEEN.fullmatch(code, close + 1, brace):
            continue
        body = code[brace + 1 :]
        if language == "java" and "class " not in code[: match.start()]:
            body = body.rstrip() + "\n}"  # a bare method: close the class the prompt opened
        return body
    return None


def continuation(answer: str, language: str, entry_point: str, prefix: str = "") -> str:
    """What follows the header of the function ``prefix`` ends with (else ``entry_point``'s) in the answer's code.

    The name comes from the code base when it can: a few HumanEvalPack problems name their
    ``entry_point`` differently from the function their prompt declares.
    """
    entry_point = (defined_name(prefix, language) if prefix else "") or entry_point
    code = code_of(answer, entry_point)
    if not entry_point:
        return code
    if language == "python":
        body = _after_python_header(code, entry_point)
    else:
        body = _after_brace_header(code, entry_point, language)
    return code if body is None else body
