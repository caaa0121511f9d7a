"""The thread handlers stay small enough to read in one sitting (issue 13): at most
12 public methods and 8 constructor arguments each."""

import inspect

import pytest

from chat_server.handlers.access import ThreadGate
from chat_server.handlers.availability import Availability
from chat_server.handlers.care_threads import CareThreads
from chat_server.handlers.intake import MessageIntake
from chat_server.handlers.key_backup import KeyBackups
from chat_server.handlers.receipts import Receipts
from chat_server.handlers.sync import ThreadSync
from chat_server.handlers.uploads import UploadService

MAX_PUBLIC_METHODS = 12
MAX_CONSTRUCTOR_ARGUMENTS = 8
THREAD_HANDLERS = [
    ThreadGate,
    CareThreads,
    MessageIntake,
    ThreadSync,
    Receipts,
    UploadService,
    Availability,
    KeyBackups,
]


@pytest.mark.parametrize("handler", THREAD_HANDLERS, ids=lambda cls: cls.__name__)
def test_a_thread_handler_is_small(handler: type) -> None:
    public = [
        name
        for name, member in inspect.getmembers(handler, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert public, "the handler offers something"
    assert len(public) <= MAX_PUBLIC_METHODS, public
    arguments = list(inspect.signature(handler.__init__).parameters)[1:]  # type: ignore[misc]
    assert 1 <= len(arguments) <= MAX_CONSTRUCTOR_ARGUMENTS, arguments
