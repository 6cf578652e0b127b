"""The examples in the package's docstrings run and print what they say."""

import doctest

import deriv


def test_docstring_examples():
    failures, tried = doctest.testmod(deriv, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 15
    assert failures == 0
