"""The word error rate the transcription tests grade with: word-level edit distance over the
reference's words, blind to case and punctuation."""

from __future__ import annotations

import pytest

from tests.support.speech import sentences_heard, word_error_rate, words


def test_words_ignore_case_and_punctuation() -> None:
    assert words("Hello, World! It's 10 o\u2019clock.") == [
        "hello",
        "world",
        "it's",
        "10",
        "o'clock",
    ]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the quick brown fox", "The quick brown fox.", 0.0),
        ("the quick brown fox", "the quick brown box", 0.25),  # one substitution
        ("the quick brown fox", "the brown fox", 0.25),  # one deletion
        ("the quick brown fox", "the very quick brown fox", 0.25),  # one insertion
        ("the quick brown fox", "", 1.0),
        ("a b", "c d e f", 2.0),  # insertions can take it above 1
        ("", "", 0.0),
        ("", "noise", 1.0),
    ],
)
def test_word_error_rate_counts_substitutions_deletions_and_insertions(
    reference: str, hypothesis: str, expected: float
) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


def test_sentences_are_found_anywhere_in_speech_cut_in_at_any_point() -> None:
    sentences = ("the meeting will start tomorrow morning", "we need to review the budget")
    heard = "morning. We need to review the budgets before. The meeting will"
    assert sentences_heard(sentences, heard) == [sentences[1]]  # the first was cut short
    assert sentences_heard(sentences, heard + " start tomorrow morning.") == list(sentences)
    assert sentences_heard(sentences, "") == []
