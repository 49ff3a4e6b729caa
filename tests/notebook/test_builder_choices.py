"""The builder's drop-downs against a page that still shows an old list.

A choice arrives from the page as the message the browser sends (through the widget's comm, as
from JupyterLab): the label the user saw. The kernel may have replaced the list since (a "place"
choice changes the references, typing changes the "into" choices). A label still offered selects
that entry wherever it now is; a label no longer offered changes nothing and says so. An index
sync (``ipywidgets.Dropdown``) would apply the old position to the new list: each test checks that
the position would indeed have named a different entry, so the scenario is the real race.
"""

from __future__ import annotations

import pytest
import traitlets

from flowkit.contrib import image_workers
from flowkit.notebook import Builder, Place
from flowkit.notebook.builder._choice import Choice


def page_chooses(choice: Choice, label: str) -> None:
    """What the page sends when the user picks ``label`` in the drop-down (a comm message)."""
    content = {"event": "choose", "label": label, "seq": 1}
    choice.comm.handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


@pytest.fixture
def builder(tmp_path) -> Builder:
    """Resize, then a fork with an upload in branch 1 (the review's workflow, half built)."""
    builder = Builder("review_images", workers=image_workers(output_dir=tmp_path / "out"))
    builder.workflow_inputs.value = "fileLocation"
    builder.task_type.value = "image_convert_resize"
    builder.ref.value = "resize_ref"
    builder.add_button.click()
    builder.task_type.value = "FORK_JOIN"
    builder.add_button.click()
    builder.task_type.value = "upload_toS3"
    builder.ref.value = "upload_ref"
    builder.place.value = Place(fork="fork_1", branch=0)
    builder.add_button.click()
    assert builder.message.value.startswith("added upload_ref"), builder.message.value
    builder.task_type.value = "image_convert_resize"
    builder.ref.value = "thumbnail_ref"
    return builder


def test_a_reference_chosen_from_the_old_list_selects_that_reference_not_its_old_position(builder):
    page_chooses(builder.place, "after upload_ref")
    shown = list(builder.reference.labels)  # the list the page shows when the user clicks
    page_chooses(builder.place, "after fork_1")  # the kernel replaces the references (the JOIN's output comes in)
    page_chooses(builder.reference, "${upload_ref.output}")  # picked in the old list
    position = shown.index("${upload_ref.output}")
    assert builder.reference.labels[position] == "${join_fork_1.output}"  # what an index sync would insert
    assert builder.reference.value == builder.reference.label == "${upload_ref.output}"
    page_chooses(builder.target, "fileLocation *")
    builder.insert_button.click()
    assert builder.fields.fields["fileLocation"].value == "${upload_ref.output}"
    assert builder.reference.stale == [] and "no longer offered" not in builder.message.value


def test_a_reference_no_longer_offered_changes_nothing_and_says_so(builder):
    page_chooses(builder.place, "after fork_1")
    shown = list(builder.reference.labels)
    page_chooses(builder.place, "in branch 2 of fork_1")  # branch 1's upload is not upstream of branch 2
    kept = builder.reference.value
    page_chooses(builder.reference, "${upload_ref.output.url}")
    assert shown.index("${upload_ref.output.url}") >= len(builder.reference.labels)  # an index sync: nothing valid
    assert builder.reference.value == kept != "${upload_ref.output.url}"
    assert builder.reference.stale == ["${upload_ref.output.url}"]
    assert builder.message.value == "'${upload_ref.output.url}' is no longer offered here: choose again"
    builder.insert_button.click()
    assert "${upload_ref.output.url}" not in {f.value for f in builder.fields.fields.values()}


def test_an_into_choice_made_before_typing_changed_the_list_fills_the_entry_the_user_saw(builder):
    shown = list(builder.target.labels)
    builder.inputs.value = '{"extra": ""}'  # typed in the JSON input: "extra (JSON)" joins the "into" choices
    page_chooses(builder.target, "a new key")
    assert builder.target.labels[shown.index("a new key")] == "extra (JSON)"  # what an index sync would fill
    assert builder.target.value == ("new", "")
    page_chooses(builder.reference, "${resize_ref.output}")
    builder.insert_button.click()
    assert '"output": "${resize_ref.output}"' in builder.inputs.value
    assert '"extra": ""' in builder.inputs.value  # the key shown at that position is untouched


def test_a_disabled_choice_takes_nothing_from_the_page(builder):
    builder.start_editing("upload_ref")
    assert builder.place.disabled
    kept = builder.place.value
    page_chooses(builder.place, "at the end")
    assert builder.place.value == kept and builder.place.stale == ["at the end"]


def test_choice_works_like_a_dropdown_from_python():
    choice = Choice(description="use", options=["a", "b"])
    assert (choice.options, choice.value, choice.label, choice.labels) == (("a", "b"), "a", "a", ["a", "b"])
    choice.value = "b"
    choice.options = ["c", "b"]  # still offered: kept
    assert (choice.value, choice.label) == ("b", "b")
    choice.options = [("first", 1), ("second", 2)]  # gone: the first entry
    assert (choice.value, choice.label) == (1, "first")
    assert choice.choose("second") and choice.value == 2
    assert not choice.choose("b") and choice.value == 2 and choice.stale == ["b"]
    with pytest.raises(traitlets.TraitError, match="3 is not one of the use options"):
        choice.value = 3
    choice.options = []
    assert (choice.value, choice.label, choice.labels) == (None, None, [])
    assert Choice(options=["x", "y"], value="y").label == "y"
