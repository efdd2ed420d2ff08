"""The command line in the operator's language: which one, and argparse's own words.

The language is ``--lang`` if the command line gives it (found before the
parser is built, since the parser's help is worded as it is built), else the
environment's (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else
English. :func:`use` chooses it once, at the start of ``trio-chat``; the help,
the usage errors, the start-up hints and the terminal client then read
:func:`operator_words`.

argparse words its own parts ("usage:", "options", "show this help message
and exit", its errors) through the module-level ``_`` and ``ngettext`` it
imports from :mod:`gettext`, which look in compiled ``.mo`` files of the
process's locale. :func:`use` points those two names at our catalog (the
msgids below, argparse's own, with its ``%``-style fields) so that one
language speaks for the whole command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from trio_chat.i18n import DEFAULT, N_, Words, choose, from_environment, languages, words_for

# argparse's messages (Python 3.11's argparse.py), worded in our catalog.
# TRANSLATORS: argparse fills in the %(name)s and %s fields; keep them as they are.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("can't open '%(filename)s': %(error)s"),
)

_chosen: Words | None = None


def asked_language(argv: Sequence[str]) -> str | None:
    """The ``--lang`` on a command line (``--lang es`` or ``--lang=es``), if any."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def language_of(argv: Sequence[str]) -> str:
    """The operator's language: ``--lang`` if supported, else the environment's, else English."""
    return choose(asked_language(argv)) or from_environment() or DEFAULT


def use(argv: Sequence[str]) -> Words:
    """Choose the command line's language for this process, argparse's words included."""
    global _chosen
    _chosen = words = words_for(language_of(argv))
    # argparse looks up `_` and `ngettext` in its module at each use.
    setattr(argparse, "_", words)  # noqa: B010 (argparse's own hook names)
    setattr(argparse, "ngettext", words.ngettext)  # noqa: B010
    return words


def operator_words() -> Words:
    """The words of the person at this command line (the environment's until :func:`use`)."""
    return _chosen if _chosen is not None else words_for(from_environment())


def language_option(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    """``--lang LANG``: the language of this command's words."""
    _ = operator_words()
    parser.add_argument(
        "--lang",
        type=language,
        metavar="LANG",
        default=default,
        help=_(
            "the language of its words: {languages} (default: from LANG, LC_ALL, LC_MESSAGES)",
            languages=", ".join(languages()),
        ),
    )


def language(text: str) -> str:
    """``--lang``'s value: a language there is a catalog for (``es``, ``es_ES.UTF-8``)."""
    lang = choose(text)
    if lang is None:
        _ = operator_words()
        known = ", ".join(languages())
        raise argparse.ArgumentTypeError(
            _("no catalog for {lang} (there is: {languages})", lang=repr(text), languages=known)
        )
    return lang
