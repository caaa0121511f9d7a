"""The practice console's crypto in JavaScript against Python: sealing a mailing
(e2e_crypto/broadcast.py) and sealing/opening roster labels to the staff group
(e2e_crypto/client/roster.py). Node is required, as for test_js_interop.py."""

from __future__ import annotations

import pytest

from e2e_crypto.broadcast import open_broadcast, seal_broadcast
from e2e_crypto.client.roster import RosterFormatError, open_labels, parse_roster_csv, seal_labels
from e2e_crypto.errors import DecryptionFailed, VerificationFailed
from e2e_crypto.groups import create_epoch_commit, open_epoch_key
from e2e_crypto.groups_public import verify_epoch_commit
from tests.crypto.people import Person
from tests.crypto.test_js_interop import _cert_json, _device_json, run_js

PRACTICE = Person.new("practice-1", "console")
PATIENTS = [Person.new("patient-a", "phone", "laptop"), Person.new("patient-b", "phone")]
STRANGER = Person.new("patient-c", "phone")
TEXT = "La vaccination contre la grippe est ouverte (65 ans et plus), dès lundi.".encode()


def test_a_mailing_sealed_in_javascript_opens_in_python_for_each_device_only() -> None:
    devices = [(p, d.device_id) for p in PATIENTS for d in p.keys.devices]
    [sealed] = run_js(
        {
            "op": "seal_broadcast",
            "sender": _device_json(PRACTICE),
            "campaign_id": "flu-2026",
            "client_msg_id": "flu-2026",
            "body": TEXT.hex(),
            "to": [_cert_json(p, d) for p, d in devices],
        }
    )
    assert sealed["ok"], sealed
    body = bytes.fromhex(sealed["body"])
    assert set(sealed["slips"]) == {f"{p.account_id}/{d}" for p, d in devices}
    for p, d in devices:
        slip = bytes.fromhex(sealed["slips"][f"{p.account_id}/{d}"])
        opened = open_broadcast(
            body,
            slip,
            opener=p.keys.device(d),
            sender=PRACTICE.verified(),
            campaign_id="flu-2026",
            client_msg_id="flu-2026",
        )
        assert opened.body == TEXT
    slip = bytes.fromhex(sealed["slips"][f"{PATIENTS[0].account_id}/phone"])
    with pytest.raises(DecryptionFailed):
        open_broadcast(
            body,
            slip,
            opener=PATIENTS[1].device,
            sender=PRACTICE.verified(),
            campaign_id="flu-2026",
            client_msg_id="flu-2026",
        )
    for p in PATIENTS:
        assert p.account_id.encode() not in body


def test_a_mailing_sealed_in_python_and_javascript_alike_opens_in_javascript() -> None:
    python = seal_broadcast(
        PRACTICE.device,
        campaign_id="c1",
        client_msg_id="c1",
        body=TEXT,
        to_devices=[PATIENTS[1].verified()],
    )
    slip = python.slips[(PATIENTS[1].account_id, "phone")]
    opened, wrong = run_js(
        *(
            {
                "op": "open_broadcast",
                "body": python.body.hex(),
                "slip": slip.hex(),
                "opener": _device_json(who),
                "sender": _cert_json(PRACTICE),
                "campaign_id": "c1",
                "client_msg_id": "c1",
            }
            for who in (PATIENTS[1], STRANGER)
        )
    )
    assert opened["ok"]
    assert bytes.fromhex(opened["body"]) == TEXT
    assert not wrong["ok"]
    assert wrong["error"] == "DecryptionFailed"


def test_roster_labels_cross_between_python_and_javascript_for_staff_members_only() -> None:
    nurse = Person.new("nurse-1", "desk")
    commit, key = create_epoch_commit(
        PRACTICE.keys.root,
        admin_account=PRACTICE.account_id,
        group_id="staff",
        members=[PRACTICE.verified(), nurse.verified()],
        previous=None,
    )
    chain = {
        "commits": [commit.encode().hex()],
        "admin_account": PRACTICE.account_id,
        "admin_root": PRACTICE.keys.root.public_key.raw.hex(),
    }
    labels = {"age_band": "65+", "condition": "diabète", "vaccinated": "no"}
    from_python = seal_labels(labels, key.public_key)
    from_js, opened_in_js, outsider = run_js(
        {"op": "seal_labels", "labels": labels, "staff_key": key.public_key.raw.hex()},
        {"op": "open_labels", "sealed": from_python.hex(), "device": _device_json(nurse), **chain},
        {
            "op": "open_labels",
            "sealed": from_python.hex(),
            "device": _device_json(STRANGER),
            **chain,
        },
    )
    assert open_labels(bytes.fromhex(from_js["sealed"]), key) == labels
    assert opened_in_js["labels"] == labels
    assert not outsider["ok"]
    assert outsider["error"] == "DecryptionFailed"


def test_a_staff_group_created_in_javascript_verifies_and_opens_in_python() -> None:
    nurse = Person.new("nurse-2", "desk")
    [made] = run_js(
        {
            "op": "create_epoch_commit",
            "admin_root_seed": PRACTICE.keys.root.seed.hex(),
            "admin_account": PRACTICE.account_id,
            "group_id": "staff-practice-1",
            "members": [_cert_json(PRACTICE), _cert_json(nurse)],
        }
    )
    assert made["ok"], made
    commit = verify_epoch_commit(
        bytes.fromhex(made["commit"]),
        admin_account=PRACTICE.account_id,
        admin_root_key=PRACTICE.keys.root.public_key,
        previous=None,
    )
    assert commit.epoch == 1
    assert commit.group_id == "staff-practice-1"
    key = open_epoch_key(commit, nurse.device)
    assert key.public_key.raw.hex() == made["public_key"]
    with pytest.raises(DecryptionFailed):
        open_epoch_key(commit, STRANGER.device)
    with pytest.raises(VerificationFailed):
        verify_epoch_commit(
            bytes.fromhex(made["commit"]),
            admin_account=PRACTICE.account_id,
            admin_root_key=STRANGER.keys.root.public_key,
            previous=None,
        )


ROSTERS = [
    # Excel on a French Windows: semicolons, Windows-1252, every kind of bad row.
    (
        "email;language;age_band;conditions\r\n"
        "ann@example.org;fr;65+;diabète\r\n"
        "not-an-address;en;65+;\r\n"
        "dan@example.org;en;65+\r\n"
        "ANN@example.org;fr;65+;again\r\n"
        "eve@example.org;de;65+;\r\n"
        "\r\n"
        ";fr;40-64;\r\n"
        "fay@example.org;;65+;hépatite\r\n"
    ).encode("cp1252"),
    # UTF-8 with Excel's BOM, commas, a quoted field holding a line break and a quote.
    (
        "\ufeffEmail,Language,note\n"
        'gil@example.org,nl,"two\nlines, ""quoted"""\n'
        "hal@example.org,en,ok\n"
        "ivy@example.org,xx,ok\n"
    ).encode(),
    # Old Mac line ends, then an unclosed quote, which runs to the end of the file.
    b'email\rjo@example.org\rkim@example.org\r"lee@example.org\r',
    b"name;age\r\nann;70\r\n",  # no e-mail column: the whole file is refused
    b"",
]


@pytest.mark.parametrize("data", ROSTERS)
def test_the_page_reads_a_roster_csv_exactly_as_the_sdk(data: bytes) -> None:
    [js] = run_js({"op": "parse_roster", "data": data.hex()})
    if "format_error" in js:
        with pytest.raises(RosterFormatError) as refused:
            parse_roster_csv(data)
        assert js["format_error"] == str(refused.value)
        return
    parsed = parse_roster_csv(data)
    assert js["rows"] == [
        {"line": r.line, "email": r.email, "language": r.language, "labels": dict(r.labels)}
        for r in parsed.rows
    ]
    assert js["rejected"] == [{"line": r.line, "reason": r.reason} for r in parsed.rejected]
    assert parsed.rows or parsed.rejected  # each case has something to compare
