"""Word cues of a question against the clauses of a query: the query with the asked-for shape scores higher."""

from __future__ import annotations

import pytest

from sqldistill.sql.cues import cue_agreement, question_cues, select_width, sql_constructs


@pytest.mark.parametrize(("question", "better", "worse"), [
    ("List the names of teachers in ascending order of age.",
     "SELECT Name FROM teacher ORDER BY Age ASC", "SELECT Name FROM teacher"),
    ("Which singer is the oldest?",
     "SELECT Name FROM singer ORDER BY Age DESC LIMIT 1", "SELECT Name FROM singer"),
    ("What are the names of teachers whose hometown is not Bolton?",
     "SELECT Name FROM teacher WHERE Hometown != 'Bolton'", "SELECT Name FROM teacher WHERE Hometown = 'Bolton'"),
    ("Find the shops that do not hire any employee.",
     "SELECT Name FROM shop WHERE Shop_ID NOT IN (SELECT Shop_ID FROM hiring)", "SELECT Name FROM shop"),
    ("How many templates do we have?", "SELECT count(*) FROM Templates", "SELECT Template_ID FROM Templates"),
    ("How many templates do we have?", "SELECT count(*) FROM Templates",
     "SELECT count(*) FROM Templates WHERE Template_ID NOT IN (SELECT Template_ID FROM Documents)"),
    ("Return the names of all the poker players.", "SELECT Name FROM people", "SELECT Name, count(*) FROM people"),
    ("What is the most common citizenship of singers?",
     "SELECT Citizenship FROM singer GROUP BY Citizenship ORDER BY count(*) DESC LIMIT 1",
     "SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship ORDER BY count(*) DESC LIMIT 1"),
    ("What is the average age of singers?", "SELECT avg(Age) FROM singer", "SELECT max(Age) FROM singer"),
    ("Show teachers older than 30.", "SELECT Name FROM teacher WHERE Age > 30", "SELECT Name FROM teacher"),
])
def test_the_asked_for_shape_scores_higher(question: str, better: str, worse: str) -> None:
    assert cue_agreement(question, better) > cue_agreement(question, worse)


def test_several_columns_are_fine_when_the_question_asks_for_several_things() -> None:
    sql = "SELECT Name, Age FROM singer"
    assert cue_agreement("What are the names and ages of singers?", sql) == 0
    assert cue_agreement("Show each singer's name with their age.", sql) == 0
    assert cue_agreement("What are the names of singers?", sql) == -1


def test_quoted_values_are_neither_cues_nor_constructs() -> None:
    assert "negation" not in question_cues("Find the songs titled 'Not Alone'.")
    assert "negation" in question_cues("Find the songs not titled Alone.")
    assert "negation" not in sql_constructs("SELECT Title FROM song WHERE Title = 'Not Alone'")
    assert "negation" in sql_constructs("SELECT Title FROM song WHERE Title <> 'Alone'")
    assert cue_agreement("Which songs are there?", "SELECT Title FROM song WHERE Title = 'Not Alone'") == 0


def test_select_width_reads_the_first_select_and_survives_bad_sql() -> None:
    assert select_width("SELECT a, b, count(*) FROM t GROUP BY a, b") == 3
    assert select_width("SELECT a, b FROM t UNION SELECT c, d FROM u") == 2
    assert select_width("SELEC nonsense (((") == 1
