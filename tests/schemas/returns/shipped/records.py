"""Example records for the shipped templates: small enough that every value is worked out by hand.

Each function returns new dictionaries, so a test may change them freely. Every record here
validates against the standard (a test checks it).
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]

ASH = "svc-ash-court"  # an English nursing home
BIRCH = "svc-birch-house"  # a Scottish care home
SWIFT = "svc-swift-homecare"  # an English care-at-home service


def _record(record_type: str, record_id: str, service_id: str, **fields: Any) -> Record:
    return {
        "recordType": record_type,
        "schemaVersion": "1.1",
        "id": record_id,
        "serviceId": service_id,
        **fields,
    }


def bed(
    level: str, places: int, occupied: int, accepting: int, reserved: int, **more: Any
) -> Record:
    """One bed row; places not occupied, accepting or reserved are vacant and not available."""
    unavailable = places - occupied - accepting - reserved
    row: Record = {
        "careLevel": level,
        "places": places,
        "occupied": occupied,
        "vacantAcceptingAdmissions": accepting,
        "vacantReserved": reserved,
        "vacantNotAvailable": unavailable,
        **more,
    }
    if unavailable:
        row["notAvailableReasons"] = [{"reason": "staffing", "places": unavailable}]
    return row


def ash_service() -> Record:
    return {
        "directoryType": "service",
        "schemaVersion": "1.1",
        "id": ASH,
        "providerId": "prov-yorkshire-dales-care",
        "name": "Ash Court",
        "identifiers": [
            {"scheme": "cqc-location", "value": "1-1234567890"},
            {"scheme": "cqc-provider", "value": "1-987654321"},
        ],
        "serviceType": "care-home-with-nursing",
        "regulatedActivities": [
            "accommodation-nursing-or-personal-care",
            "treatment-of-disease-disorder-or-injury",
        ],
        "clientGroups": ["older-people", "dementia", "physical-disability"],
        "geography": {"country": "england", "councilArea": "E06000057", "postcode": "HG1 2AB"},
        "address": {"line1": "3 Ash Lane", "town": "Harrogate"},
        "contact": {"email": "manager.ashcourt@example.org.uk", "telephone": "01423 555 0100"},
        "delegatedHealthcareActivities": ["specialised-medication", "bladder-and-bowel"],
        "registeredPlaces": 40,
        "status": "active",
    }


def ash_provider() -> Record:
    return {
        "directoryType": "provider",
        "schemaVersion": "1.0",
        "id": "prov-yorkshire-dales-care",
        "name": "Yorkshire Dales Care",
        "legalName": "Yorkshire Dales Care Limited",
        "organisationType": "private-company",
        "identifiers": [{"scheme": "cqc-provider", "value": "1-987654321"}],
    }


def ash_capacity() -> list[Record]:
    """Two October snapshots (27 October is the later) and one in November."""
    early = _record(
        "capacity-snapshot",
        "cap-ash-10-06",
        ASH,
        asAt="2026-10-06T09:00:00+01:00",
        registeredPlaces=40,
        beds=[bed("nursing", 28, 28, 0, 0), bed("residential", 10, 10, 0, 0)],
        admissions={"status": "closed", "reasons": ["infection-outbreak"]},
    )
    late = _record(
        "capacity-snapshot",
        "cap-ash-10-27",
        ASH,
        asAt="2026-10-27T09:00:00+00:00",
        registeredPlaces=40,
        beds=[
            bed("nursing", 18, 15, 2, 1),
            bed("nursing", 10, 8, 1, 0, specialism="dementia"),
            bed("residential", 8, 8, 0, 0),
            bed("residential", 2, 1, 1, 0, designation="respite"),
        ],
        admissions={"status": "restricted", "reasons": ["staffing"], "since": "2026-10-20"},
    )
    november = _record(
        "capacity-snapshot",
        "cap-ash-11-03",
        ASH,
        asAt="2026-11-03T09:00:00+00:00",
        registeredPlaces=40,
        beds=[bed("nursing", 28, 20, 8, 0), bed("residential", 10, 2, 8, 0)],
        admissions={"status": "open"},
    )
    return [late, early, november]


def staff(role: str, employment: str, headcount: int, wte: float, **more: Any) -> Record:
    return {
        "jobRole": role,
        "employmentType": employment,
        "headcount": headcount,
        "wte": wte,
        **more,
    }


def ash_workforce() -> Record:
    """Ash Court's October workforce: stocks at 31 October, flows over the twelve months."""
    return _record(
        "workforce-snapshot",
        "wf-ash-2026-10",
        ASH,
        asAt="2026-10-31T17:00:00+00:00",
        period={"start": "2025-11-01", "end": "2026-10-31"},
        staff=[
            staff("registered-manager", "direct-permanent", 1, 1.0, starters=0, leavers=0),
            staff("registered-nurse", "direct-permanent", 6, 5.2, starters=1, leavers=0),
            staff("registered-nurse", "agency", 2, 0.5, hoursWorked=96),
            staff("senior-care-worker", "direct-permanent", 4, 3.6, starters=0, leavers=1),
            staff("care-worker", "direct-permanent", 20, 16.4, starters=2, leavers=2),
            staff("care-worker", "direct-temporary", 3, 2.0, starters=1, leavers=0),
            staff("care-worker", "bank", 4, 1.1, starters=1, leavers=1, hoursWorked=150),
            staff("care-worker", "agency", 3, 1.2, hoursWorked=210.5),
            staff("ancillary", "direct-permanent", 7, 5.5, starters=0, leavers=1),
            staff("administrative", "direct-permanent", 2, 1.6, starters=1, leavers=0),
        ],
        vacancies=[
            {
                "jobRole": "registered-nurse",
                "vacancyWte": 1.6,
                "vacantPosts": 2,
                "hardToFillPosts": 0,
            },
            {"jobRole": "care-worker", "vacancyWte": 2.4, "vacantPosts": 3, "hardToFillPosts": 0},
            {
                "jobRole": "activities-worker",
                "vacancyWte": 0.5,
                "vacantPosts": 1,
                "hardToFillPosts": 0,
            },
        ],
        absences=[
            {"jobRole": "registered-nurse", "reason": "sickness", "staffAbsent": 1},
            {"jobRole": "care-worker", "reason": "covid-19", "staffAbsent": 2},
            {"jobRole": "care-worker", "reason": "sickness", "staffAbsent": 1},
            {"reason": "other", "staffAbsent": 1},
        ],
        leaverReasons=[
            {"reason": "other-social-care-employer", "leavers": 2},
            {"reason": "health-sector", "leavers": 1},
            {"reason": "retired", "leavers": 1},
        ],
        employmentTerms={
            "sickPayAboveStatutory": True,
            "pensionAboveMinimum": False,
            "employerPensionContributionPercent": 3,
            "staffOptedOutOfPension": False,
            "careWorkerAnnualLeaveDays": 28,
            "sleepInsOffered": True,
            "sleepInPayBasis": "flat-rate",
            "travelTimePay": "different-rate",
            "travelTimeHourlyRate": {"amount": 11.44, "currency": "GBP"},
            "startersRepeatTraining": "always",
            "careWorkforcePathwayAwareness": "works-in-practice",
            "careWorkforcePathwayUses": ["pay-levels", "other"],
        },
        notes="The pathway is also used to plan apprenticeships.",
    )


def ash_deaths() -> list[Record]:
    """A death in the home with every detail, and one in hospital whose cause is not known yet."""
    common: Record = {"eventType": "death", "reportedByRole": "registered-manager"}
    in_home = _record(
        "notifiable-event",
        "evt-ash-0031",
        ASH,
        **common,
        occurredAt="2026-10-19T06:05:00+01:00",
        reportedAt="2026-10-19T11:20:00+01:00",
        personReference="AC-R0077",
        ageBand="aged-85-and-over",
        summary="Resident died peacefully overnight after a week of decline from pneumonia.",
        actionsTaken="Family and GP informed; the GP verified the death at 08:10.",
        death={
            "placeOfDeath": "care-home",
            "expected": True,
            "endOfLifeCareInPlace": True,
            "causeOfDeath": "Pneumonia",
            "personStartedUsingServiceOn": "2023-05-02",
        },
    )
    in_hospital = _record(
        "notifiable-event",
        "evt-ash-0032",
        ASH,
        **common,
        occurredAt="2026-10-24T14:30:00+01:00",
        reportedAt="2026-10-25T09:00:00+01:00",
        personReference="AC-R0102",
        ageBand="aged-65-74",
        summary="Resident admitted to hospital after a fall died there two days later.",
        death={"placeOfDeath": "hospital", "expected": False, "endOfLifeCareInPlace": False},
    )
    return [in_home, in_hospital]


def swift_home_care() -> list[Record]:
    """Two half-month records in October and one straddling September and October."""

    def activity(record_id: str, start: str, end: str, **fields: Any) -> Record:
        return _record(
            "home-care-activity",
            record_id,
            SWIFT,
            period={"start": start, "end": end},
            visits={"planned": 2000, "delivered": 1980, "missed": 0, "cancelledByPerson": 20},
            **fields,
        )

    return [
        activity(
            "hca-swift-10b",
            "2026-10-16",
            "2026-10-31",
            peopleSupported=54,
            hours={"planned": 1500, "delivered": 1470.25},
            packages={"started": 3, "ended": 1, "handedBack": 1, "declined": 1},
            unmetNeed={
                "peopleWaiting": 4,
                "peopleWaitingInHospital": 2,
                "weeklyHoursWaiting": 31.5,
            },
        ),
        activity(
            "hca-swift-10a",
            "2026-10-01",
            "2026-10-15",
            peopleSupported=52,
            hours={"planned": 1400, "delivered": 1385.5},
            packages={"started": 2, "ended": 1, "handedBack": 0, "declined": 3},
            unmetNeed={"peopleWaiting": 6, "weeklyHoursWaiting": 40},
        ),
        activity(
            "hca-swift-straddle",
            "2026-09-24",
            "2026-10-07",
            peopleSupported=99,
            hours={"planned": 9999, "delivered": 9999},
        ),
    ]


def birch_service() -> Record:
    return {
        "directoryType": "service",
        "schemaVersion": "1.1",
        "id": BIRCH,
        "providerId": "prov-birch-care",
        "name": "Birch House",
        "identifiers": [{"scheme": "care-inspectorate-service", "value": "CS2003001025"}],
        "serviceType": "care-home-without-nursing",
        "geography": {"country": "scotland", "councilArea": "S12000036", "postcode": "EH12 9AB"},
        "registeredPlaces": 45,
        "status": "active",
    }


def birch_movements() -> list[Record]:
    """The census year 2025/26 in two halves; Birch House had no short-stay residents."""

    def row(stay: str, at_end: int, admissions: int, discharges: int, deaths: int) -> Record:
        found: Record = {
            "stayType": stay,
            "residentsAtEnd": at_end,
            "admissions": admissions,
            "discharges": discharges,
            "deaths": deaths,
        }
        if discharges:
            found["dischargesByDestination"] = [
                {"destination": "own-home", "discharges": discharges}
            ]
        if deaths:
            found["deathsByPlace"] = [{"place": "care-home", "deaths": deaths}]
        return found

    return [
        _record(
            "resident-movements",
            "rm-birch-2025-h2",
            BIRCH,
            period={"start": "2025-10-01", "end": "2026-03-31"},
            stayTypes=[row("long-stay", 39, 7, 2, 7), row("respite", 2, 6, 5, 0)],
        ),
        _record(
            "resident-movements",
            "rm-birch-2025-h1",
            BIRCH,
            period={"start": "2025-04-01", "end": "2025-09-30"},
            stayTypes=[row("long-stay", 41, 8, 1, 6), row("respite", 1, 5, 5, 0)],
        ),
    ]


def charge(level: str, route: str, amount: float, **more: Any) -> Record:
    return {
        "careLevel": level,
        "fundingRoute": route,
        "weeklyCharge": {"amount": amount, "currency": "GBP"},
        **more,
    }


def birch_fees() -> list[Record]:
    """Charges at 31 March 2026, an older set in June 2025 and the next year's in April 2026."""
    march = _record(
        "fees-and-charges",
        "fees-birch-2026-03",
        BIRCH,
        asAt="2026-03-31T12:00:00+01:00",
        charges=[
            charge("residential", "self-funded", 1450.0, stayType="respite"),
            charge("residential", "self-funded", 1120.5),
            charge("residential", "local-authority", 871.85, stayType="long-stay"),
            charge("nursing", "self-funded", 1350.0),
        ],
    )
    june = _record(
        "fees-and-charges",
        "fees-birch-2025-06",
        BIRCH,
        asAt="2025-06-01T12:00:00+01:00",
        charges=[charge("residential", "self-funded", 1000.0)],
    )
    april = _record(
        "fees-and-charges",
        "fees-birch-2026-04",
        BIRCH,
        asAt="2026-04-06T12:00:00+01:00",
        charges=[charge("residential", "self-funded", 1200.0)],
    )
    return [march, june, april]


def birch_workforce() -> list[Record]:
    """The calendar years 2025 (with agency staff and vacancies) and 2024 (with neither)."""
    year_2025 = _record(
        "workforce-snapshot",
        "wf-birch-2025",
        BIRCH,
        asAt="2025-12-31T23:00:00+00:00",
        period={"start": "2025-01-01", "end": "2025-12-31"},
        staff=[
            staff("registered-manager", "direct-permanent", 1, 1.0, starters=0, leavers=0),
            staff("deputy-manager", "direct-permanent", 1, 1.0, starters=0, leavers=0),
            staff("senior-care-worker", "direct-permanent", 6, 5.2, starters=1, leavers=2),
            staff("registered-nurse", "direct-permanent", 5, 4.1, starters=1, leavers=1),
            staff("registered-nurse", "agency", 2, 0.6, hoursWorked=1100),
            staff("care-worker", "direct-permanent", 25, 19.4, starters=6, leavers=5),
            staff("care-worker", "bank", 4, 1.3, starters=1, leavers=0),
            staff("care-worker", "agency", 3, 0.9, hoursWorked=1650.5),
            staff("ancillary", "direct-permanent", 8, 6.05, starters=2, leavers=1),
            staff("administrative", "direct-temporary", 1, 0.6),
        ],
        vacancies=[
            {
                "jobRole": "registered-nurse",
                "vacancyWte": 1.5,
                "vacantPosts": 2,
                "hardToFillPosts": 2,
                "hardToFillReasons": ["too-few-applicants", "pay"],
            },
            {
                "jobRole": "care-worker",
                "vacancyWte": 2.4,
                "vacantPosts": 3,
                "hardToFillPosts": 1,
                "hardToFillReasons": ["pay", "location"],
            },
        ],
        absences=[
            {"reason": "sickness", "daysLost": 310.5},
            {"reason": "covid-19", "daysLost": 42},
        ],
        registrationCompliance=[
            {
                "body": "sssc",
                "staffRequired": 41,
                "registered": 38,
                "pendingWithinTimeAllowed": 2,
                "overdue": 1,
            },
            {
                "body": "nmc",
                "staffRequired": 5,
                "registered": 5,
                "pendingWithinTimeAllowed": 0,
                "overdue": 0,
            },
        ],
    )
    year_2024 = _record(
        "workforce-snapshot",
        "wf-birch-2024",
        BIRCH,
        asAt="2024-12-31T23:00:00+00:00",
        period={"start": "2024-01-01", "end": "2024-12-31"},
        staff=[staff("care-worker", "direct-permanent", 20, 15.0, starters=3, leavers=3)],
        vacancies=[],
    )
    return [year_2025, year_2024]
