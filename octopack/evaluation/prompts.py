"""Prompts of the three HumanEvalPack tasks, as the reference harness builds them.

Every prompt has three parts: an ``instruction``, an optional ``context`` and a
``prompt_base`` (the code the answer starts with). The OctoCoder format is
``Question: {instruction}\\n{context}\\n\\nAnswer:\\n{prompt_base}``, stripped at both ends
so the model continues right after the last code token (a trailing newline would
split a token the model normally sees whole).

- Synthesize: instruction = the problem's ``instruction`` field; no context;
  prompt_base = ``prompt`` (signature and docstring).
- Fix (the "tests" setting): instruction ``Fix bugs in {entry_point}.``;
  context = prompt_base + buggy_solution + "\\n" + test; prompt_base = ``declaration``.
- Explain, step 1 (describe): instruction ``Provide a concise natural language
  description of the code using at most {len(docstring)} characters.``; context =
  declaration + canonical_solution; no prompt_base.
  Step 2 (rewrite): instruction ``Write functional code in {Language} according to the
  description.``; context = the description; prompt_base = ``declaration``.

For Rust the declaration-based prompt_base starts with ``fn main(){}\\n`` (the tests run
through ``cargo test`` on a binary crate, which needs a main function).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from octopack.common.errors import InvalidArgument
from octopack.common.vocabulary import DISPLAY_NAMES

if TYPE_CHECKING:
    from octopack.evaluation.dataset import Problem

Task = Literal["synthesize", "fix", "explain"]
TASKS: tuple[Task, ...] = get_args(Task)

PromptFormat = Literal[
    "octocoder", "completion", "chat", "instruct", "octogeex", "starchat", "starcodercommit",
    "instructcodet5p", "wizardcoder", "codellama", "codellama-70b", "tulu", "zephyr", "yi", "codegemma",
    "deepseek", "aurora-m",
]
FORMATS: tuple[PromptFormat, ...] = get_args(PromptFormat)

#: The reference harness's templates for instruction-tuned models: ``{q}`` is the question
#: (instruction, then a newline and the context when there is one), ``{base}`` the code the
#: answer starts with. Formats in :data:`_STRIPPED_QUESTION` strip the question first;
#: ``instruct`` puts the context before the instruction.
TEMPLATES: dict[str, str] = {
    "instruct": "{q}\n\n{base}",
    "octogeex": "Question: {q}\n\nAnswer:\n{base}",
    "starchat": "<|system|>\n<|end|>\n<|user|>\n{q}<|end|>\n<|assistant|>\n{base}",
    "starcodercommit": "<commit_before><commit_msg>{q}<commit_after>{base}",
    "instructcodet5p": (
        "Below is an instruction that describes a task. Write a response that appropriately completes "
        "the request.\n\n### Instruction:\n{q}\n\n### Response:{base}"
    ),
    "wizardcoder": (
        "Below is an instruction that describes a task. Write a response that appropriately completes "
        "the request.\n\n### Instruction:\n{q}\n\n### Response:\n{base}"
    ),
    "codellama": "[INST] {q} [/INST] {base}",
    "codellama-70b": "Source: user\n\n {q} Source: assistant\nDestination: user \n\n{base}",
    "tulu": "<|user|>\n{q}\n<|assistant|>\n{base}",
    "zephyr": "<|user|>\n{q}</s>\n<|assistant|>\n{base}",
    "yi": "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{base}",
    "codegemma": "<start_of_turn>user\n{q}<end_of_turn>\n<start_of_turn>model\n{base}",
    "deepseek": (
        "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek "
        "Company, and you only answer questions related to computer science. For politically sensitive "
        "questions, security and privacy issues, and other non-computer science questions, you will refuse "
        "to answer\n### Instruction:\n{q}\n### Response:\n{base}"
    ),
    "aurora-m": "### Instruction:\n{q}\n### Response:\n{base}",
}
_STRIPPED_QUESTION = ("octogeex", "codellama", "codellama-70b", "deepseek")
#: Stop sequences a format adds to the language's (its end-of-turn marker).
FORMAT_STOPS: dict[str, tuple[str, ...]] = {"starchat": ("<|end|>",)}

RUST_MAIN = "fn main(){}\n"


@dataclass(frozen=True)
class Prompt:
    """A built prompt and the parts it was built from."""

    text: str
    instruction: str
    context: str | None
    prompt_base: str


def check_task(task: str) -> Task:
    """Return ``task`` as a :data:`Task` or raise a clear error."""
    if task not in TASKS:
        raise InvalidArgument(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task  # type: ignore[return-value]


def prompt_base(problem: Problem, task: Task) -> str:
    """The code the model's answer starts from."""
    if task == "synthesize":
        return problem.prompt
    if problem.language == "rust":
        return RUST_MAIN + problem.declaration
    return problem.declaration


def code_base(problem: Problem, task: Task) -> str:
    """What a post-processed generation is appended to, to make the program's code.

    Fix answers continue the declaration. Synthesize and Explain put the answer after
    the problem's ``prompt`` (declaration plus docstring; for Go it also holds helper
    functions that four declarations lack), as the reference harness does.
    """
    if task == "fix":
        return prompt_base(problem, task)
    return problem.prompt


def question(instruction: str, context: str | None, fmt: PromptFormat = "octocoder") -> str:
    """The question of a prompt: the instruction and, on the next line, the context (``instruct``:
    context first). It is the user turn of the ``chat`` format."""
    if context is None:
        return instruction
    if fmt in ("instruct", "completion"):
        return f"{context}\n{instruction}"
    return f"{instruction}\n{context}"


def render(instruction: str, context: str | None, base: str, fmt: PromptFormat = "octocoder") -> str:
    """Put the parts together in ``fmt`` and strip the result.

    ``completion`` is the format for base (not instruction-tuned) models: Synthesize
    without context is just the code base; with context it is context, instruction,
    a blank line and the code base. ``chat`` needs the model's chat template, which only
    the generator has (see :class:`~octopack.evaluation.sources.ChatTurn`): its text here is
    the question, a blank line and the code base, what a template-less reader would see.
    """
    if fmt == "octocoder":
        asked = instruction if context is None else f"{instruction}\n{context}"
        return f"Question: {asked}\n\nAnswer:\n{base}".strip()
    if fmt == "completion":
        if context is None:
            return base.strip()
        return f"{context}\n{instruction}\n\n{base}".strip()
    if fmt == "chat":
        return f"{question(instruction, context, fmt)}\n\n{base}".strip()
    if fmt in TEMPLATES:
        q = question(instruction, context, fmt)
        q = q.strip() if fmt in _STRIPPED_QUESTION else q
        return TEMPLATES[fmt].format(q=q, base=base).strip()
    raise InvalidArgument(f"prompt format must be one of {', '.join(FORMATS)}; got {fmt!r}")


def check_format(fmt: str) -> PromptFormat:
    """Return ``fmt`` as a :data:`PromptFormat` or raise a clear error."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"prompt format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return fmt  # type: ignore[return-value]


def synthesize_prompt(problem: Problem, fmt: PromptFormat = "octocoder") -> Prompt:
    """Write the function from its instruction."""
    base = prompt_base(problem, "synthesize")
    instruction = problem.instruction.strip()
    return Prompt(render(instruction, None, base, fmt), instruction, None, base)


def fix_prompt(problem: Problem, fmt: PromptFormat = "octocoder") -> Prompt:
    """Fix the buggy function, given it and its tests."""
    base = prompt_base(problem, "fix")
    instruction = f"Fix bugs in {problem.entry_point}."
    context = base + problem.buggy_solution + "\n" + problem.test
    return Prompt(render(instruction, context, base, fmt), instruction, context, base)


def describe_prompt(problem: Problem, fmt: PromptFormat = "octocoder") -> Prompt:
    """Explain, step 1: describe the canonical solution in at most len(docstring) characters."""
    base = prompt_base(problem, "explain")
    instruction = (
        "Provide a concise natural language description of the code using at most "
        f"{len(problem.docstring)} characters."
    )
    context = base + problem.canonical_solution
    return Prompt(render(instruction, context, "", fmt), instruction, context, "")


def explain_prompt(problem: Problem, description: str, fmt: PromptFormat = "octocoder") -> Prompt:
    """Explain, step 2: write the code back from a description alone."""
    base = prompt_base(problem, "explain")
    name = DISPLAY_NAMES[problem.language]
    instruction = f"Write functional code in {name} according to the description."
    return Prompt(render(instruction, description, base, fmt), instruction, description, base)


def code_prompt(
    problem: Problem, task: Task, fmt: PromptFormat = "octocoder", description: str = ""
) -> Prompt:
    """The prompt whose answer is code: Synthesize, Fix, or Explain's step 2."""
    if task == "synthesize":
        return synthesize_prompt(problem, fmt)
    if task == "fix":
        return fix_prompt(problem, fmt)
    return explain_prompt(problem, description, fmt)
