"""Word cues of a question against the clauses of a query: the query with the asked-for shape scores higher."""

from __future__ import annotations

import pytest

from sqldistill.sql.cues import (
    bound_agreement,
    bounds,
    comparison_agreement,
    cue_agreement,
    direction_agreement,
    question_cues,
    select_width,
    sql_constructs,
)


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
    ("Which shop has the fewest employees?",
     "SELECT Name FROM shop GROUP BY Shop_ID ORDER BY count(*) ASC LIMIT 1",
     "SELECT Name FROM shop GROUP BY Shop_ID ORDER BY count(*) DESC LIMIT 1"),
    ("Find the ids of templates with a version below the average version.",
     "SELECT Template_ID FROM Templates WHERE Version_Number < (SELECT avg(Version_Number) FROM Templates)",
     "SELECT Template_ID FROM Templates WHERE Version_Number >= (SELECT avg(Version_Number) FROM Templates)"),
    ("Find the departments whose name contains the word computer.",
     "SELECT department_name FROM Departments WHERE department_name LIKE '%computer%'",
     "SELECT department_name FROM Departments WHERE department_name = 'computer'"),
    ("What are the names of singers ordered by ascending net worth?",
     "SELECT Name FROM singer ORDER BY Net_Worth_Millions", "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC"),
    ("How many friends does each student have?",
     "SELECT student_id, count(*) FROM Friend GROUP BY student_id", "SELECT count(DISTINCT student_id) FROM Friend"),
    ("How many paragraphs have a text different from 'Jersey'?",
     "SELECT count(*) FROM Paragraphs WHERE Paragraph_Text != 'Jersey'",
     "SELECT count(*) FROM Paragraphs WHERE Paragraph_Text = 'Jersey'"),
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


def test_a_superlative_wants_the_top_of_an_order_taken_its_way() -> None:
    q = "What is the name of the shop with the most employees?"
    top = "SELECT Name FROM shop ORDER BY Employees DESC LIMIT 1"
    assert direction_agreement(q, top) == 1
    assert direction_agreement(q, top.replace(" DESC", "")) == -1
    assert direction_agreement(q, "SELECT max(Employees) FROM shop") == 1
    assert direction_agreement(q, "SELECT Name FROM shop") == -1  # no top taken at all
    assert direction_agreement("When was the earliest transcript printed?",
                               "SELECT transcript_date FROM Transcripts ORDER BY transcript_date LIMIT 1") == 1
    # "at least" is a comparison, a sorted listing asks for no top, and "most ... least" says nothing
    assert direction_agreement("Shops with at least 3 employees", "SELECT Name FROM shop") == 0
    assert direction_agreement("List shops sorted by the most employees", "SELECT Name FROM shop") == 0
    assert direction_agreement("the most and the least employees", "SELECT Name FROM shop") == 0


def test_a_comparison_in_words_wants_the_same_direction_in_sql() -> None:
    assert comparison_agreement("Grades with at least 4 students",
                                "SELECT grade FROM h GROUP BY grade HAVING count(*) >= 4") == 1
    assert comparison_agreement("Grades with at least 4 students",
                                "SELECT grade FROM h GROUP BY grade HAVING count(*) < 4") == -1
    assert comparison_agreement("Players earning less than 200000", "SELECT Name FROM p WHERE Earnings > 200000") == -1
    # "<>" compares neither way; both directions asked, or none: no opinion
    assert comparison_agreement("Players earning more than 5", "SELECT Name FROM p WHERE Earnings <> 5") == 0
    assert comparison_agreement("Districts with shops above 10000 and below 3000 products",
                                "SELECT District FROM shop WHERE Number_products > 10000") == 0
    assert comparison_agreement("Which players are there?", "SELECT Name FROM p WHERE Earnings > 5") == 0


@pytest.mark.parametrize(("question", "said"), [
    ("Students in at least 2 clubs", [(">=", 2.0)]),
    ("Students in 3 or more clubs", [(">=", 3.0)]),
    ("Students in more than 2 clubs", [(">", 2.0)]),
    ("Players aged over 30", [(">", 30.0)]),
    ("Shops with no more than 5 employees", [("<=", 5.0)]),
    ("Shops with fewer than 5 employees", [("<", 5.0)]),
    ("Shops with 4 or fewer employees", [("<=", 4.0)]),
    ("Players with more than or equal to 3 wins", [(">=", 3.0)]),
    ("Players with the most wins", []),
])
def test_bounds_read_the_number_and_its_inclusiveness(question: str, said: list[tuple[str, float]]) -> None:
    assert bounds(question) == said


def test_a_bound_wants_the_same_inclusiveness_in_sql() -> None:
    q = "Which students are members of at least 2 clubs?"
    having = "SELECT StuID FROM m GROUP BY StuID HAVING count(*) {}"
    assert bound_agreement(q, having.format(">= 2")) == 1
    assert bound_agreement(q, having.format("> 1")) == 1  # the same bound on integers
    assert bound_agreement(q, having.format("> 2")) == -1
    assert bound_agreement(q, having.format("> 5")) == 0  # another number: value filling's business
    assert bound_agreement("Members of more than 2 clubs", having.format(">= 2")) == -1
    assert bound_agreement("Members of more than 2 clubs", having.format(">= 3")) == 1
    assert cue_agreement(q, having.format(">= 2")) > cue_agreement(q, having.format("> 2"))


def test_a_bound_also_wants_its_direction() -> None:
    q = "Which cities do more than one employee under age 30 come from?"
    assert bounds(q) == [(">", 1.0), ("<", 30.0)]
    right = "SELECT City FROM employee WHERE Age < 30 GROUP BY City HAVING COUNT(*) > 1"
    assert bound_agreement(q, right) == 2
    assert bound_agreement(q, right.replace("Age < 30", "Age > 30")) == 0  # one right, one the wrong way


def test_a_query_negating_twice_loses_to_one_negating_once() -> None:
    q = "Show names of people whose nationality is not Russia."
    once = "SELECT Name FROM people WHERE Nationality != 'Russia'"
    twice = "SELECT Name FROM people EXCEPT SELECT Name FROM people WHERE Nationality != 'Russia'"
    assert cue_agreement(q, once) == cue_agreement(q, twice) + 1
    # two negations asked: two in SQL are fine
    q2 = "Which people are not from Russia and have no poker record?"
    assert cue_agreement(q2, "SELECT Name FROM people WHERE Nationality != 'Russia' AND People_ID NOT IN "
                             "(SELECT People_ID FROM poker_player)") == 1


def test_a_top_taken_unasked_and_a_bound_compared_with_equality_lose() -> None:
    q = "What are the final tables made of all poker players, ordered by final tables made descending?"
    listing = "SELECT Final_Table_Made FROM poker_player ORDER BY Final_Table_Made DESC"
    assert cue_agreement(q, listing) == cue_agreement(q, listing + " LIMIT 1") + 1
    assert cue_agreement("Who has the highest earnings?", "SELECT Name FROM p ORDER BY Earnings DESC LIMIT 1") > 0
    assert bound_agreement("Ranks of players with no less than 19 final tables",
                           "SELECT Money_Rank FROM poker_player WHERE Final_Table_Made <> 19") == -1
