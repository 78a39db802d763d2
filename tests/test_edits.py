"""Repairs of a candidate query toward the columns and sort its question names, on a real Spider schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sqldistill.db import reflect
from sqldistill.sql.edits import (
    named_columns,
    projection_agreement,
    question_values,
    repairs,
    table_agreement,
    value_agreement,
    without_names,
)


def _spider(spider_dir: Path, name: str) -> Any:
    """The reflected schema of one Spider database."""
    return reflect(str(spider_dir / "database" / name / f"{name}.sqlite"))


def _built(tmp_path: Path, ddl: str) -> Any:
    """The reflected schema of a small SQLite database made from ``ddl``."""
    import sqlite3

    path = tmp_path / "small.sqlite"
    con = sqlite3.connect(path)
    con.executescript(ddl)
    con.close()
    return reflect(str(path))


@pytest.fixture(scope="module")
def schema(spider_dir: Path) -> Any:
    name = "student_transcripts_tracking"
    return reflect(str(spider_dir / "database" / name / f"{name}.sqlite"))


def test_the_columns_the_question_names_replace_the_returned_ones(schema: Any) -> None:
    q = "What are all the addresses including line 1 and line 2?"
    assert named_columns(q, "SELECT DISTINCT line_1 FROM Addresses", schema) == [("Addresses", "line_1"),
                                                                                  ("Addresses", "line_2")]
    assert repairs(q, "SELECT DISTINCT line_1 FROM Addresses", schema) == ["SELECT DISTINCT line_1, line_2 FROM Addresses"]
    q = "What are the names and descriptions of all the sections?"
    assert repairs(q, "SELECT other_details, section_name, section_description FROM Sections", schema) == [
        "SELECT section_name, section_description FROM Sections"]
    # aliased tables keep their aliases, in the question's order
    sql = ("SELECT T1.department_description FROM Departments AS T1 JOIN Degree_Programs AS T2 "
           "ON T1.department_id = T2.department_id")
    got = repairs("List the department name and id of departments offering degrees.", sql, schema)
    assert got == [sql.replace("T1.department_description", "T1.department_name, T1.department_id")]


def test_columns_used_only_to_filter_are_not_returned(schema: Any) -> None:
    sql = "SELECT section_name FROM Sections WHERE section_description = 'x'"
    assert repairs("What are the names of sections whose description is x?", sql, schema) == []


def test_the_sort_follows_an_explicit_direction(schema: Any) -> None:
    sql = "SELECT section_name FROM Sections ORDER BY section_name"
    assert repairs("List the section names in reverse alphabetical order.", sql, schema) == [
        "SELECT section_name FROM Sections ORDER BY section_name DESC"]
    assert repairs("List the section names in alphabetical order.", sql, schema) == []
    desc = "SELECT section_name FROM Sections ORDER BY section_name DESC"
    assert repairs("List the section names in ascending order.", desc, schema) == [
        "SELECT section_name FROM Sections ORDER BY section_name ASC"]


def test_nothing_to_repair_and_unparsable_sql_give_nothing(schema: Any) -> None:
    assert repairs("How many courses are there?", "SELECT count(*) FROM Courses", schema) == []
    assert repairs("What are the names of all courses?", "SELECT course_name FROM Courses", schema) == []
    assert repairs("anything", "SELEC ((", schema) == []
    assert projection_agreement("anything", "SELEC ((", schema) == 0


def test_projection_agreement_counts_named_minus_unnamed_columns(schema: Any) -> None:
    q = "What are the names and descriptions of all the sections?"
    assert projection_agreement(q, "SELECT section_name, section_description FROM Sections", schema) == 2
    # other_details is not asked for (-1), section_name is (+1), section_description is left out (-1)
    assert projection_agreement(q, "SELECT other_details, section_name FROM Sections", schema) == -1
    assert projection_agreement(q, "SELECT section_name FROM Sections", schema) == 0
    assert projection_agreement(q, "SELECT count(*) FROM Sections", schema) == -2
    # a returned column that the query's own filter pins to one value counts against it
    q = "What is the zip code of the address in the city Port Chelsea?"
    assert projection_agreement(q, "SELECT city FROM Addresses WHERE city = 'Port Chelsea'", schema) == -1
    assert projection_agreement(q, "SELECT city FROM Addresses", schema) == 1


def test_vote_weights_add_repairs_and_favour_the_named_columns(schema: Any) -> None:
    import math

    from sqldistill.infer.select import vote_weights

    q = "What are all the addresses including line 1 and line 2?"
    got = dict(vote_weights([], [("SELECT DISTINCT line_1 FROM Addresses", 0.9)], q, cue_weight=0.0, schema=schema,
                            link_weight=0.5))
    assert got["SELECT DISTINCT line_1 FROM Addresses"] == pytest.approx(math.exp(0.0))  # line 2 is left out
    assert got["SELECT DISTINCT line_1, line_2 FROM Addresses"] == pytest.approx(math.exp(1.0))
    without = dict(vote_weights([], [("SELECT DISTINCT line_1 FROM Addresses", 0.9)], q, cue_weight=0.0))
    assert list(without) == ["SELECT DISTINCT line_1 FROM Addresses"]


def test_a_value_the_question_names_becomes_a_filter(schema: Any) -> None:
    values = {"addresses.city": ["Port Chelsea", "Goodwinhaven"], "departments.department_name": ["art", "computer science"]}
    assert repairs("What is the zip code for Port Chelsea?", "SELECT zip_postcode FROM Addresses", schema, values) == [
        "SELECT zip_postcode FROM Addresses WHERE city = 'Port Chelsea'"]
    sql = ("SELECT count(*) FROM Departments AS T1 JOIN Degree_Programs AS T2 ON T1.department_id = T2.department_id")
    q = "How many degrees does the computer science department offer?"
    assert repairs(q, sql, schema, values) == [
        "SELECT COUNT(*) FROM Departments AS T1 JOIN Degree_Programs AS T2 ON T1.department_id = T2.department_id "
        "WHERE T1.department_name = 'computer science'"]
    # already filtered on that column (its value is filled in elsewhere), or the value already there: no repair
    assert repairs(q, sql + " WHERE T1.department_name = 'art'", schema, values) == []
    assert repairs("Which cities are there besides Goodwinhaven?",
                   "SELECT city FROM Addresses WHERE city != 'Goodwinhaven'", schema, values) == []
    assert repairs("What is the zip code for Port Chelsea?", "SELECT zip_postcode FROM Addresses", schema) == []


def test_a_plain_listing_is_aggregated_the_way_the_question_asks(spider_dir: Path) -> None:
    poker = _spider(spider_dir, "poker_player")
    assert repairs("Return the average earnings of all poker players.", "SELECT Earnings FROM poker_player",
                   poker) == ["SELECT AVG(Earnings) FROM poker_player"]
    assert repairs("How many different nationalities are there?", "SELECT DISTINCT Nationality FROM people",
                   poker) == ["SELECT COUNT(DISTINCT Nationality) FROM people"]
    assert repairs("How many people are there?", "SELECT Name FROM people ORDER BY Name", poker) == [
        "SELECT COUNT(*) FROM people"]
    # a text column is not averaged; an aggregated query is left alone
    assert repairs("What is the average nationality?", "SELECT Nationality FROM people", poker) == []
    assert repairs("How many people are there?", "SELECT count(*) FROM people", poker) == []


def test_negation_and_grouping_are_repaired(spider_dir: Path) -> None:
    singer, teach = _spider(spider_dir, "singer"), _spider(spider_dir, "course_teach")
    assert repairs('List the singers whose citizenship is not "France".',
                   "SELECT Name FROM singer WHERE Citizenship = 'France'", singer) == [
        "SELECT Name FROM singer WHERE Citizenship <> 'France'"]
    assert repairs("List the singers whose citizenship is France.",
                   "SELECT Name FROM singer WHERE Citizenship = 'France'", singer) == []
    assert repairs("For each hometown, how many teachers are there?", "SELECT count(*) FROM teacher", teach) == [
        "SELECT Hometown, COUNT(*) FROM teacher GROUP BY Hometown"]
    assert repairs("How many teachers are there?", "SELECT count(*) FROM teacher", teach) == []


def test_repairs_are_written_in_the_database_dialect() -> None:
    from sqldistill.records import Column, Schema, Table

    table = Table("orders", [Column("id", "INT", primary_key=True), Column("status", "VARCHAR(20)"),
                             Column("amount", "DECIMAL(10,2)")])
    mysql = Schema("shop", "mysql", [table])
    q = "List the status of orders by amount in descending order."
    # MySQL quotes names with backticks; a double-quoted name would be a string there
    assert repairs(q, "SELECT `status` FROM orders ORDER BY amount", mysql) == [
        "SELECT `status` FROM orders ORDER BY amount DESC"]
    postgres = Schema("shop", "postgresql", [table])
    assert repairs("What is the average amount of orders?", 'SELECT "amount" FROM orders', postgres) == [
        'SELECT AVG("amount") FROM orders']


def test_the_values_a_question_names_are_found(schema: Any) -> None:
    values = {"addresses.city": ["Port Chelsea", "Port"], "courses.course_name": ["math", "statistics"]}
    strings, numbers = question_values("How many math courses have 'Intro' in the name and 3 sections?", schema, values)
    assert strings == {"math", "intro"} and numbers == {3.0}
    # the longest of overlapping values; numbers inside a column's name ("line 1") or a value are no values
    strings, numbers = question_values("Which addresses in Port Chelsea have a line 2?", schema, values)
    assert strings == {"port chelsea"} and numbers == set()
    assert question_values("Which students have more than one address?", schema, values) == (set(), set())
    # a two-letter value only as a code in capitals
    codes = {"addresses.state_province_county": ["NY", "ny"]}
    assert question_values("Which addresses are in NY?", schema, codes)[0] == {"ny"}
    assert question_values("Which addresses are in ny?", schema, codes)[0] == set()
    assert question_values("Which students have more than 1 address?", schema, values) == (set(), {1.0})


def test_value_agreement_counts_the_named_values_a_query_uses(schema: Any) -> None:
    named = question_values("How many math sections have more than 3 students?", schema, {"courses.course_name": ["math"]})
    assert value_agreement("SELECT count(*) FROM Courses WHERE course_name = 'math' AND x > 3", named) == 2
    assert value_agreement("SELECT count(*) FROM Courses WHERE course_name LIKE '%math%'", named) == 0
    assert value_agreement("SELECT count(*) FROM Courses", named) == -2
    assert value_agreement("SELECT count(*) FROM Courses", (frozenset(), frozenset())) == 0


def test_table_agreement_wants_every_named_table_read(spider_dir: Path) -> None:
    emp = _spider(spider_dir, "employee_hire_evaluation")
    bare = without_names("Which shop has the most employees?", emp)
    right = ("SELECT T1.Name FROM shop AS T1 JOIN hiring AS T2 ON T1.Shop_ID = T2.Shop_ID "
             "GROUP BY T1.Shop_ID ORDER BY count(*) DESC LIMIT 1")
    wrong = ("SELECT T1.Name FROM employee AS T1 JOIN hiring AS T2 ON T1.Employee_ID = T2.Employee_ID "
             "GROUP BY T1.Employee_ID ORDER BY count(*) DESC LIMIT 1")
    assert table_agreement(bare, right, emp) == -1  # employees are named, the hiring table stands for them here
    assert table_agreement(bare, wrong, emp) == -1
    assert table_agreement(without_names("Which shop hires the most?", emp), wrong, emp) == -1
    assert table_agreement(without_names("Which shop hires the most?", emp), right, emp) == 0
    # a table named only inside a column's name ("shop id") is not asked for
    assert table_agreement(without_names("List the shop ids of all hirings.", emp),
                           "SELECT Shop_ID FROM hiring", emp) == 0


def test_like_comparison_and_superlative_repairs(spider_dir: Path) -> None:
    net = _spider(spider_dir, "network_1")
    assert repairs("Which students have a name containing Ky?", "SELECT name FROM Highschooler WHERE name = 'Ky'",
                   net) == ["SELECT name FROM Highschooler WHERE name LIKE '%Ky%'"]
    assert repairs("Which students are in a grade below 10?", "SELECT name FROM Highschooler WHERE grade > 10",
                   net) == ["SELECT name FROM Highschooler WHERE grade < 10"]
    assert repairs("Who is the student with the lowest grade?",
                   "SELECT name FROM Highschooler ORDER BY grade DESC LIMIT 1", net) == [
        "SELECT name FROM Highschooler ORDER BY grade ASC LIMIT 1"]
    assert repairs("Who is the student with the highest grade?",
                   "SELECT name FROM Highschooler ORDER BY grade DESC LIMIT 1", net) == []


def test_vote_weights_favour_the_query_that_uses_the_named_value(spider_dir: Path) -> None:
    from sqldistill.infer.select import vote_weights

    docs = _spider(spider_dir, "cre_Doc_Template_Mgt")
    q = "How many paragraphs does the document 'Summer Show' have?"
    plain = "SELECT count(*) FROM Paragraphs"
    named = ("SELECT count(*) FROM Documents AS T1 JOIN Paragraphs AS T2 ON T1.Document_ID = T2.Document_ID "
             "WHERE T1.Document_Name = 'Summer Show'")
    got = dict(vote_weights([plain], [(named, 0.8)], q, schema=docs, tau=0.1))
    assert got[named] > got[plain]
    off = dict(vote_weights([plain], [(named, 0.8)], q, schema=docs, tau=0.1, value_weight=0.0, table_weight=0.0))
    assert off[named] / off[plain] < got[named] / got[plain]


def test_two_values_joined_by_or_become_an_or(spider_dir: Path) -> None:
    from sqldistill.db import connect
    from sqldistill.infer.retrieval import column_values

    teach = _spider(spider_dir, "course_teach")
    assert repairs("Which teachers are aged either 32 or 33?", "SELECT Name FROM teacher WHERE Age = 32", teach) == [
        "SELECT Name FROM teacher WHERE (Age = 32 OR Age = 33)"]
    path = spider_dir / "database" / "cre_Doc_Template_Mgt" / "cre_Doc_Template_Mgt.sqlite"
    with connect(str(path)) as db:
        docs = reflect(db)
        values = column_values(db, docs)
    sql = "SELECT Template_ID FROM Templates WHERE Template_Type_Code = 'PPT'"
    assert repairs("Return the ids of templates with the code PP or PPT.", sql, docs, values) == [
        "SELECT Template_ID FROM Templates WHERE (Template_Type_Code = 'PPT' OR Template_Type_Code = 'PP')"]
    # a word the column does not hold is no second value; without "or" nothing changes
    assert repairs("Return the ids of templates with the code PPT or anything.", sql, docs, values) == []
    assert repairs("Return the ids of templates with the code PPT.", sql, docs, values) == []


def test_a_number_compared_in_words_becomes_a_condition(spider_dir: Path) -> None:
    docs = _spider(spider_dir, "cre_Doc_Template_Mgt")
    sql = "SELECT Version_Number, Template_Type_Code FROM Templates"
    assert repairs("Return the version numbers and type codes of templates with a version number greater than 5.",
                   sql, docs) == [sql + " WHERE Version_Number > 5"]
    assert "SELECT Template_ID FROM Templates WHERE Version_Number <= 3" in repairs(
        "Which templates have a version number at most 3?", "SELECT Template_ID FROM Templates", docs)
    # a query already comparing with a number is left to value filling
    assert not [r for r in repairs("Templates with a version number greater than 5", sql + " WHERE Version_Number > 2",
                                   docs) if "> 5" in r]


def test_a_negated_value_wants_no_plain_equality() -> None:
    from sqldistill.sql.edits import negated_values

    named = (frozenset({"france"}), frozenset())
    assert negated_values('List the singers whose citizenship is not "France".', named[0]) == {"france"}
    assert negated_values("List the singers from France.", named[0]) == set()
    negated = frozenset({"france"})
    plain = "SELECT Name FROM singer WHERE Citizenship = 'France'"
    assert value_agreement(plain, named, negated=negated) == value_agreement(plain, named) - 1
    # a negation elsewhere does not negate the value; <> and EXCEPT do
    assert value_agreement(plain + " AND NOT Singer_ID IN (SELECT Singer_ID FROM song)", named, negated=negated) == 0
    for sql in ("SELECT Name FROM singer WHERE Citizenship <> 'France'",
                "SELECT Name FROM singer EXCEPT SELECT Name FROM singer WHERE Citizenship = 'France'"):
        assert value_agreement(sql, named, negated=negated) == 1


def test_a_bound_in_words_sets_the_inclusiveness_and_most_common_groups(spider_dir: Path) -> None:
    club = _spider(spider_dir, "club_1")
    sql = ("SELECT T1.Fname FROM Student AS T1 JOIN Member_of_club AS T2 ON T1.StuID = T2.StuID "
           "GROUP BY T1.StuID HAVING COUNT(*) > 2")
    assert sql.replace("> 2", ">= 2") in repairs("Which students are members of at least 2 clubs?", sql, club)
    assert not [r for r in repairs("Which students are members of more than 2 clubs?", sql, club) if ">=" in r]
    # "the most common X": X's value held by the most rows of its table, the least common the other way
    plain = "SELECT city_code FROM Student ORDER BY Age DESC LIMIT 1"
    top = "SELECT city_code FROM Student GROUP BY city_code ORDER BY COUNT(*) DESC LIMIT 1"
    assert top in repairs("What is the most common city code of students?", plain, club)
    assert top.replace(" DESC", " ASC") in repairs("Which city code is least common among students?", plain, club)
    # two columns named, or no "most common": nothing of the kind
    assert not [r for r in repairs("What is the most common city code and age of students?", plain, club)
                if "GROUP BY" in r]
    assert not [r for r in repairs("What is the city code of the oldest student?", plain, club) if "GROUP BY" in r]


def test_a_bound_on_a_noun_counts_the_returned_column_in_its_table(spider_dir: Path) -> None:
    club = _spider(spider_dir, "club_1")
    joined = ("SELECT T1.ClubLocation FROM Club AS T1 JOIN Member_of_club AS T2 ON T1.ClubID = T2.ClubID "
              "GROUP BY T1.ClubID HAVING COUNT(*) < 2")
    want = "SELECT ClubLocation FROM Club GROUP BY ClubLocation HAVING COUNT(*) >= 2"
    assert want in repairs("Which club locations are shared by at least 2 clubs?", joined, club)
    # the city codes of students: Student's column, counted in Student, keeping the query's own filter
    assert "SELECT city_code FROM Student WHERE Age < 20 GROUP BY city_code HAVING COUNT(*) > 1" in repairs(
        "Which city codes do more than one student under age 20 have?",
        "SELECT city_code FROM Student WHERE Age < 20", club)
    # the noun's table must hold the column, and a primary key makes groups of one
    assert not [r for r in repairs("Which clubs have more than 3 students?", "SELECT ClubName FROM Club", club)
                if "HAVING" in r]
    assert not [r for r in repairs("Which students have more than 1 students?", "SELECT StuID FROM Student", club)
                if "HAVING" in r]


def test_a_relation_stored_twice_is_read_from_its_owner_end(tmp_path: Path) -> None:
    from sqldistill.sql.edits import role_agreement

    schema = _built(tmp_path, """
        CREATE TABLE Member (member_id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE Follows (member_id INTEGER REFERENCES Member(member_id),
                              followed_id INTEGER REFERENCES Member(member_id));
    """)
    owner = "SELECT T1.name, count(*) FROM Member AS T1 JOIN Follows AS T2 ON T1.member_id = T2.member_id GROUP BY T1.name"
    other = owner.replace("T1.member_id = T2.member_id", "T1.member_id = T2.followed_id")
    q = "How many follows does each member have?"
    assert role_agreement(q, owner, schema) == 1
    assert role_agreement(q, other, schema) == -1
    # the question speaks of the other end: no opinion
    assert role_agreement("How many members is each member followed by?", other, schema) == 0
    assert role_agreement("Which members are Ann's follows?", other, schema) == 0
    assert role_agreement(q, "SELECT name FROM Member", schema) == 0


def test_a_column_named_with_its_table_counts_against_the_same_name_elsewhere(tmp_path: Path) -> None:
    schema = _built(tmp_path, """
        CREATE TABLE shop (Shop_ID INTEGER PRIMARY KEY, Name TEXT);
        CREATE TABLE employee (Employee_ID INTEGER PRIMARY KEY, Name TEXT);
        CREATE TABLE hiring (Shop_ID INTEGER REFERENCES shop(Shop_ID),
                             Employee_ID INTEGER REFERENCES employee(Employee_ID));
    """)
    shops = "SELECT Name FROM shop WHERE Shop_ID NOT IN (SELECT Shop_ID FROM hiring)"
    staff = "SELECT Name FROM employee WHERE Employee_ID NOT IN (SELECT Employee_ID FROM hiring)"
    for q in ("Find the names of the shops that hire no employee.", "Which shops hire nobody? Give the shop names."):
        assert projection_agreement(q, shops, schema) == projection_agreement(q, staff, schema) + 1
    # no table named with the column: no difference
    q = "Which names are not in hiring?"
    assert projection_agreement(q, shops, schema) == projection_agreement(q, staff, schema)


def test_the_sort_key_is_the_column_the_question_sorts_by(spider_dir: Path) -> None:
    from sqldistill.sql.edits import order_agreement

    club = _spider(spider_dir, "club_1")
    q = "List the first names of students in descending order of age."
    right, wrong = "SELECT Fname FROM Student ORDER BY Age DESC", "SELECT Fname FROM Student ORDER BY StuID DESC"
    assert order_agreement(q, right, club) == 1
    assert order_agreement(q, wrong, club) == -1
    assert right in repairs(q, wrong, club)
    # a superlative that names its measure, and a sort that names none: by what is listed
    assert order_agreement("Who is the oldest student?", "SELECT Fname FROM Student ORDER BY Age DESC LIMIT 1",
                           club) == 1
    assert order_agreement("Who is the oldest student?", "SELECT Fname FROM Student ORDER BY Major DESC LIMIT 1",
                           club) == -1
    # the superlative's own direction: the youngest is the bottom of age
    young = "SELECT Fname FROM Student ORDER BY Age DESC LIMIT 1"
    assert order_agreement("Who is the youngest student?", young, club) == -1
    assert "SELECT Fname FROM Student ORDER BY Age ASC LIMIT 1" in repairs("Who is the youngest student?", young, club)
    listed = "List the ages of students in descending order."
    assert order_agreement(listed, "SELECT Age FROM Student ORDER BY Age DESC", club) == 1
    assert order_agreement(listed, "SELECT Age FROM Student ORDER BY StuID DESC", club) == -1
    assert "SELECT Age FROM Student ORDER BY Age DESC" in repairs(listed, "SELECT Age FROM Student ORDER BY StuID DESC",
                                                                  club)
    # nothing said about the order, or counted rows: no opinion
    assert order_agreement("List the ages of students.", wrong, club) == 0
    assert order_agreement("Which major has the most students?",
                           "SELECT Major FROM Student GROUP BY Major ORDER BY count(*) DESC LIMIT 1", club) == 0


def test_a_column_equal_to_two_values_becomes_an_intersect_or_a_range(spider_dir: Path) -> None:
    club = _spider(spider_dir, "club_1")
    both = "SELECT StuID FROM Member_of_club WHERE Position = 'President' AND Position = 'Vice-President'"
    assert ("SELECT StuID FROM Member_of_club WHERE Position = 'President' INTERSECT "
            "SELECT StuID FROM Member_of_club WHERE Position = 'Vice-President'") in repairs(
        "Which students are both President and Vice-President?", both, club)
    ages = "SELECT Fname FROM Student WHERE Sex = 'F' AND Age = 18 AND Age = 20"
    assert "SELECT Fname FROM Student WHERE Sex = 'F' AND Age BETWEEN 18 AND 20" in repairs(
        "Female students aged between 18 and 20", ages, club)


def test_a_count_for_each_column_groups_the_counted_table(spider_dir: Path) -> None:
    club = _spider(spider_dir, "club_1")
    joined = ("SELECT count(*), T1.Fname FROM Student AS T1 JOIN Member_of_club AS T2 ON T1.StuID = T2.StuID "
              "GROUP BY T1.Fname")
    assert "SELECT city_code, COUNT(*) FROM Student GROUP BY city_code" in repairs(
        "Show the number of students for each city code.", joined, club)
    # no count asked, or a primary key "for each": nothing of the kind
    assert not [r for r in repairs("Show the students for each city code.", joined, club) if "GROUP BY city_code" in r]
    assert not [r for r in repairs("Show the number of students for each stu id.", joined, club)
                if "FROM Student GROUP BY StuID" in r]


def test_what_both_conditions_share_is_an_intersect(spider_dir: Path) -> None:
    from sqldistill.sql.cues import cue_agreement

    club = _spider(spider_dir, "club_1")
    q = "Which city codes are shared by students younger than 18 and students older than 22?"
    either = "SELECT DISTINCT city_code FROM Student WHERE Age < 18 OR Age > 22"
    both = ("SELECT DISTINCT city_code FROM Student WHERE Age < 18 INTERSECT "
            "SELECT DISTINCT city_code FROM Student WHERE Age > 22")
    assert both in repairs(q, either, club)
    assert cue_agreement(q, both) == cue_agreement(q, either) + 2  # the INTERSECT asked for, present and missing
    assert not [r for r in repairs("Which city codes have students younger than 18 or older than 22?", either, club)
                if "INTERSECT" in r]


def test_the_first_or_last_of_a_listing_is_the_top_of_its_date(tmp_path: Path) -> None:
    schema = _built(tmp_path, "CREATE TABLE Students (student_id INTEGER PRIMARY KEY, first_name TEXT, "
                              "date_first_registered DATETIME, date_left DATETIME)")
    plain = "SELECT first_name FROM Students"
    assert plain + " ORDER BY date_first_registered ASC LIMIT 1" in repairs(
        "Who is the first student to register?", plain, schema)
    assert plain + " ORDER BY date_left DESC LIMIT 1" in repairs("Who is the last student to have left?", plain, schema)
    # two dates and no word to choose between them, or a query already ordered: nothing of the kind
    assert not [r for r in repairs("Who is the first student?", plain, schema) if "LIMIT" in r]
    assert not [r for r in repairs("Who is the first student to register?", plain + " ORDER BY first_name", schema)
                if "date_first_registered" in r]
