"""Each shipped template filled from the example records gives the values worked out by hand.

The arithmetic is in the comments; nothing here calls the engine to find what to expect.
"""

from __future__ import annotations

from typing import Any

import pytest

from care_exchange_standard.returns import fill, shipped_templates
from tests.schemas.returns.shipped import records as r

Values = dict[str, tuple[str, Any]]


def _values(
    template_id: str,
    found: list[dict[str, Any]],
    service_id: str,
    period: str,
    service: dict[str, Any] | None = None,
    provider: dict[str, Any] | None = None,
) -> Values:
    template = shipped_templates()[template_id]
    filled = fill(
        template, found, service_id=service_id, period=period, service=service, provider=provider
    )
    return {field.definition["code"]: (field.status, field.value) for field in filled.fields}


def _no_source(*codes: str) -> Values:
    return {code: ("no-source", None) for code in codes}


CT_WORKFORCE = (
    "DirectlyEmployedRegisteredNursesHeadcount",
    "DirectlyEmployedCareProvidingHeadcount",
    "DirectlyEmployedNonCareProvidingHeadcount",
    "AgencyOrBankRegisteredNursesHeadcount",
    "AgencyOrBankCareProvidingHeadcount",
    "AgencyOrBankNonCareProvidingHeadcount",
)


def test_capacity_tracker_care_home_october() -> None:
    found = [*r.ash_capacity(), r.ash_workforce()]
    values = _values("nhse-capacity-tracker-care-home", found, r.ASH, "2026-10")
    assert values == {
        # The later October snapshot (27th) counts; 6 October's and November's do not.
        "MaximumCapacity": ("value", 40),
        "OccupiedOrUsed": ("value", 32),  # 15 + 8 + 8 + 1
        "VacantReserved": ("value", 1),  # the general nursing row's 1
        "VacantAcceptingAdmissions": ("value", 4),  # 2 + 1 + 0 + 1
        "VacantNotAvailable": ("value", 1),  # dementia nursing: 10 - 8 - 1 - 0
        # Accepting admissions by bed type: general rows have no specialism and no designation.
        "VacantGeneralNursing": ("value", 2),
        "VacantDementiaNursing": ("value", 1),
        "VacantGeneralResidential": ("value", 0),
        "VacantDementiaResidential": ("value", 0),  # no such beds: a true zero
        "VacantLearningDisabilityNursing": ("value", 0),
        "VacantLearningDisabilityResidential": ("value", 0),
        "VacantMentalHealthNursing": ("value", 0),
        "VacantMentalHealthResidential": ("value", 0),
        "VacantYoungPhysicallyDisabled": ("value", 0),
        "VacantTransitionalShortStay": ("value", 1),  # the residential respite row
        "AdmissionStatus": ("value", "Open with restrictions"),
        "AdmissionClosureReasons": ("value", "staffing"),
        "AdmissionStatusSince": ("value", "2026-10-20"),
        # Directly employed: permanent and temporary; agency or bank: the rest we crosswalk.
        "DirectlyEmployedRegisteredNursesHeadcount": ("value", 6),
        "DirectlyEmployedCareProvidingHeadcount": ("value", 28),  # manager 1 + senior 4 + 20 + 3
        "DirectlyEmployedNonCareProvidingHeadcount": ("value", 9),  # ancillary 7 + admin 2
        "AgencyOrBankRegisteredNursesHeadcount": ("value", 2),
        "AgencyOrBankCareProvidingHeadcount": ("value", 7),  # bank 4 + agency 3
        "AgencyOrBankNonCareProvidingHeadcount": ("value", 0),
        "DirectlyEmployedRegisteredNursesAbsent": ("value", 1),
        "DirectlyEmployedCareProvidingAbsent": ("value", 3),  # covid 2 + sickness 1
        "DirectlyEmployedNonCareProvidingAbsent": ("value", 0),
        "StaffAbsentTotal": ("value", 5),  # 1 + 2 + 1 + 1 (the row without a role)
        "StaffAbsentCovid": ("value", 2),
        "AgencyHours": ("value", 306.5),  # 96 + 210.5; bank hours are not agency
    }


def test_capacity_tracker_care_home_november_has_no_workforce_snapshot() -> None:
    found = [*r.ash_capacity(), r.ash_workforce()]
    values = _values("nhse-capacity-tracker-care-home", found, r.ASH, "2026-11")
    assert values["OccupiedOrUsed"] == ("value", 22)  # 20 + 2
    assert values["VacantAcceptingAdmissions"] == ("value", 16)  # 8 + 8
    assert values["VacantGeneralNursing"] == ("value", 8)
    assert values["VacantGeneralResidential"] == ("value", 8)
    assert values["VacantDementiaNursing"] == ("value", 0)  # a snapshot, no such beds
    assert values["AdmissionStatus"] == ("value", "Open")
    assert values["AdmissionStatusSince"] == ("empty", None)  # open, no date given
    absent = ("StaffAbsentTotal", "StaffAbsentCovid", "AgencyHours")
    assert {code: values[code] for code in (*CT_WORKFORCE, *absent)} == _no_source(
        *CT_WORKFORCE, *absent
    )


def test_capacity_tracker_home_care_october() -> None:
    values = _values("nhse-capacity-tracker-home-care", r.swift_home_care(), r.SWIFT, "2026-10")
    # The two half-month records lie inside October; the one from 24 September does not.
    assert {code: values[code] for code in list(values)[:8]} == {
        "PeopleReceivingCare": ("value", 54),  # the later half's count, not 52 + 54
        "HoursDelivered": ("value", 2855.75),  # 1385.5 + 1470.25
        "HoursPlanned": ("value", 2900),  # 1400 + 1500
        "PeopleWaiting": ("value", 4),
        "PeopleWaitingInHospital": ("value", 2),
        "UnmetHoursPerWeek": ("value", 31.5),
        "PackagesDeclined": ("value", 4),  # 3 + 1
        "PackagesHandedBack": ("value", 1),  # 0 + 1
    }
    # No workforce snapshot in October: not zero staff, but nothing published.
    workforce = [code for code in values if code not in list(values)[:8]]
    assert len(workforce) == 9
    assert {code: values[code] for code in workforce} == _no_source(*workforce)


def test_care_home_census_2025_26() -> None:
    found = [*r.birch_movements(), *r.birch_fees()]
    values = _values(
        "phs-care-home-census-part-1", found, r.BIRCH, "2025", service=r.birch_service()
    )
    assert values == {
        "ServiceNumber": ("value", "CS2003001025"),
        "RegisteredPlaces": ("value", 45),
        # Residents at 31 March: the second half-year's residentsAtEnd.
        "ResidentsLongStay": ("value", 39),
        "ResidentsRespite": ("value", 2),
        "ResidentsShortStay": ("value", 0),  # no short-stay row: the home had none
        "AdmissionsLongStay": ("value", 15),  # 8 + 7
        "AdmissionsRespite": ("value", 11),  # 5 + 6
        "AdmissionsShortStay": ("value", 0),
        "DischargesLongStay": ("value", 3),  # 1 + 2
        "DischargesRespite": ("value", 10),  # 5 + 5
        "DischargesShortStay": ("value", 0),
        "DeathsLongStay": ("value", 13),  # 6 + 7
        "DeathsRespite": ("value", 0),
        "DeathsShortStay": ("value", 0),
        # The charges as at 31 March 2026 (June 2025's are older, April 2026's next year's).
        "GrossWeeklyChargeSelfFundingNursing": ("value", 1350.0),
        "GrossWeeklyChargeSelfFundingWithoutNursing": ("value", 1120.5),  # not the respite 1450
        "GrossWeeklyChargePubliclyFundedNursing": ("empty", None),  # no such row given
        "GrossWeeklyChargePubliclyFundedWithoutNursing": ("value", 871.85),
    }


def test_care_home_census_year_with_nothing_published() -> None:
    found = [*r.birch_movements(), *r.birch_fees()]
    values = _values(
        "phs-care-home-census-part-1", found, r.BIRCH, "2024", service=r.birch_service()
    )
    assert values.pop("ServiceNumber") == ("value", "CS2003001025")
    assert values.pop("RegisteredPlaces") == ("value", 45)
    assert values == _no_source(*values)


def test_care_inspectorate_annual_return_2025() -> None:
    values = _values(
        "care-inspectorate-annual-return-staffing", r.birch_workforce(), r.BIRCH, "2025"
    )
    # Employed staff are direct permanent, direct temporary and bank; agency rows are apart.
    assert values == {
        "ManagersHeadcount": ("value", 2),  # registered manager 1 + deputy 1
        "ManagersWte": ("value", 2),
        "SupervisorsHeadcount": ("value", 6),  # senior care workers
        "SupervisorsWte": ("value", 5.2),
        "OtherCareStaffHeadcount": ("value", 0),
        "OtherCareStaffWte": ("value", 0),
        "NursesHeadcount": ("value", 5),  # not the 2 agency nurses
        "NursesWte": ("value", 4.1),
        "CareWorkersHeadcount": ("value", 29),  # 25 + bank 4
        "CareWorkersWte": ("value", 20.7),  # 19.4 + 1.3
        "AncillaryAdminOtherHeadcount": ("value", 9),  # ancillary 8 + administrative 1
        "AncillaryAdminOtherWte": ("value", 6.65),  # 6.05 + 0.6
        "TotalHeadcount": ("value", 51),  # 2 + 6 + 5 + 29 + 9
        "TotalWte": ("value", 38.65),  # 2 + 5.2 + 4.1 + 20.7 + 6.65
        "HasVacancies": ("value", True),
        "VacanciesWte": ("value", 3.9),  # 1.5 + 2.4
        "NursesVacanciesWte": ("value", 1.5),
        "CareWorkersVacanciesWte": ("value", 2.4),
        "HardToFillPosts": ("value", 3),  # 2 + 1
        "HardToFillReasons": ("value", "too-few-applicants; pay; location"),  # pay once
        "UsedAgencyStaff": ("value", True),
        "AgencyHours": ("value", 2750.5),  # 1100 + 1650.5
        "AgencyWte": ("value", 1.5),  # 0.6 + 0.9
        "Starters": ("value", 11),  # 1 + 1 + 6 + 1 + 2
        "Leavers": ("value", 9),  # 2 + 1 + 5 + 1
        "DaysLostToAbsence": ("value", 352.5),  # 310.5 + 42
        "SsscRequired": ("value", 41),
        "SsscRegistered": ("value", 38),
        "SsscOverdue": ("value", 1),
    }


def test_care_inspectorate_annual_return_zeros_and_nothing() -> None:
    values = _values(
        "care-inspectorate-annual-return-staffing", r.birch_workforce(), r.BIRCH, "2024"
    )
    # 2024: twenty care workers, no vacancies, no agency: true zeros and answers of no.
    assert values["CareWorkersHeadcount"] == ("value", 20)
    assert values["HasVacancies"] == ("value", False)
    assert values["VacanciesWte"] == ("value", 0)
    assert values["HardToFillReasons"] == ("empty", None)
    assert values["UsedAgencyStaff"] == ("value", False)
    assert values["AgencyHours"] == ("value", 0)
    # 2023: no snapshot at all.
    values = _values(
        "care-inspectorate-annual-return-staffing", r.birch_workforce(), r.BIRCH, "2023"
    )
    assert values == _no_source(*values)


def test_asc_wds_workplace_row() -> None:
    found = [*r.ash_capacity(), r.ash_workforce()]
    values = _values(
        "asc-wds-workplace-bulk-upload",
        found,
        r.ASH,
        "2026-10-31",
        service=r.ash_service(),
        provider=r.ash_provider(),
    )
    unmapped = ("PERMCQC", "PERMLA")
    assert {code: values.pop(code) for code in unmapped} == {
        code: ("unmapped", None) for code in unmapped
    }
    # Job roles: staff rows first (manager 4, nurse 16, senior 7, care worker 8, ancillary 26,
    # administrative 25), then the vacancy-only activities worker 34.
    assert values == {
        "ESTTYPE": ("value", "6"),  # a private limited company: the private sector
        "OTHERTYPE": ("empty", None),  # given only for type 8
        "LOCALESTID": ("value", "svc-ash-court"),
        "STATUS": ("value", "UPDATE"),
        "ESTNAME": ("value", "Ash Court"),
        "ADDRESS1": ("value", "3 Ash Lane"),
        "ADDRESS2": ("empty", None),
        "ADDRESS3": ("empty", None),
        "POSTTOWN": ("value", "Harrogate"),
        "POSTCODE": ("value", "HG1 2AB"),
        "REGTYPE": ("value", "2"),
        "PROVNUM": ("value", "1-987654321"),
        "LOCATIONID": ("value", "1-1234567890"),
        "MAINSERVICE": ("value", "1"),  # care home services with nursing
        "ALLSERVICES": ("value", "1"),
        "CAPACITY": ("value", "40"),  # the 27 October snapshot, the latest by the 31st
        "UTILISATION": ("value", "32"),  # 15 + 8 + 8 + 1
        "SERVICEDESC": ("value", ""),
        # Older people only: dementia and physical disability give the older people's codes.
        "SERVICEUSERS": ("value", "1;25"),
        "OTHERUSERDESC": ("value", ";"),  # one blank item for each of the two codes
        "DHA": ("value", "1"),
        "DHAACTIVITIES": ("value", "2;7"),
        "TOTALPERMTEMP": ("value", 43),  # 1 + 6 + 4 + 20 + 3 + 7 + 2
        "ALLJOBROLES": ("value", "4;16;7;8;26;25;34"),
        "STARTERS": ("value", "0;1;0;3;0;1;0"),  # care worker 2 + 1 temporary; not bank's 1
        "LEAVERS": ("value", "0;0;1;2;1;0;0"),  # not the bank leaver
        "VACANCIES": ("value", "0;2;0;3;0;0;1"),
        "REASONS": ("value", "1;2;6"),
        "REASONNOS": ("value", "2;1;1"),
        "REPEATTRAINING": ("value", "1"),
        "CWPAWARE": ("value", "1"),
        "CWPUSE": ("value", "1;6;10"),
        "CWPUSEDESC": ("value", "The pathway is also used to plan apprenticeships."),
        "SICKPAY": ("value", "1"),
        "PENSION": ("value", "0"),
        "ACTUALCONT": ("value", "3"),
        "OPTOUTPEN": ("value", "2"),
        "HOLIDAY": ("value", "28"),
        "SLEEPINS": ("value", "1"),
        "SLEEPINPAY": ("value", "2"),
        "TRAVELTIME": ("value", "3"),
        "TTDIFFRATE": ("value", "11.44"),
    }


def test_asc_wds_home_care_row_without_a_service_entry() -> None:
    values = _values("asc-wds-workplace-bulk-upload", r.swift_home_care(), r.SWIFT, "2026-10-20")
    # On 20 October the record for 16-31 October covers the moment: 54 people receive care.
    assert values["UTILISATION"] == ("value", "54")
    assert values["CAPACITY"] == ("no-source", None)  # home care publishes no capacity snapshot
    assert values["TOTALPERMTEMP"] == ("no-source", None)  # nor, here, a workforce snapshot
    assert values["ESTNAME"] == ("no-source", None)  # no service entry was passed
    assert values["ESTTYPE"] == ("no-source", None)  # nor a provider entry


def test_asc_wds_names_an_nhs_employer_as_other() -> None:
    nhs = r.ash_provider() | {"organisationType": "nhs-body"}
    values = _values("asc-wds-workplace-bulk-upload", [], r.ASH, "2026-10-31", r.ash_service(), nhs)
    assert (values["ESTTYPE"], values["OTHERTYPE"]) == (("value", "8"), ("value", "NHS body"))


@pytest.mark.parametrize(
    ("client_groups", "service_users", "descriptions"),
    [
        # Adults: learning disability 5, carers of adults 19, other 21 with its description.
        (
            ["younger-adults", "learning-disability-or-autism", "carers-of-adults", "other"],
            "5;19;21",
            ";;People who are homeless, or sleeping rough",
        ),
        # No age given: dementia for older people (1) and adults (28); no group for brain injury.
        (["dementia", "acquired-brain-injury"], "1;28", ";"),
        # Both ages with one condition: mental health for each, not 3 or 9.
        (["older-people", "younger-adults", "mental-health"], "2;6", ";"),
        # An age with no condition: older people not in above categories.
        (["older-people"], "3", ""),
        (["children-and-young-people", "carers-of-children-and-young-people"], "45;20", ";"),
        (["whole-population"], "", ""),  # no ASC-WDS group
    ],
)
def test_asc_wds_service_users(
    client_groups: list[str], service_users: str, descriptions: str
) -> None:
    service = r.ash_service() | {
        "clientGroups": client_groups,
        "otherClientGroup": "People who are homeless; or sleeping rough",
    }
    values = _values("asc-wds-workplace-bulk-upload", [], r.ASH, "2026-10-31", service)
    assert values["SERVICEUSERS"] == ("value", service_users)
    assert values["OTHERUSERDESC"] == ("value", descriptions)


def test_asc_wds_service_users_without_client_groups() -> None:
    service = r.ash_service()
    del service["clientGroups"]
    values = _values("asc-wds-workplace-bulk-upload", [], r.ASH, "2026-10-31", service)
    assert (values["SERVICEUSERS"], values["OTHERUSERDESC"]) == (("empty", None), ("empty", None))


def test_cqc_death_notification() -> None:
    found = r.ash_deaths()
    values = _values(
        "cqc-death-notification", found, r.ASH, "evt-ash-0031", r.ash_service(), r.ash_provider()
    )
    assert values == {
        "ProviderName": ("value", "Yorkshire Dales Care"),
        "ProviderNumber": ("value", "1-987654321"),
        "LocationName": ("value", "Ash Court"),
        "LocationNumber": ("value", "1-1234567890"),
        "Address": ("value", "3 Ash Lane, Harrogate"),
        "Postcode": ("value", "HG1 2AB"),
        "RegulatedActivities": (
            "value",
            "Accommodation for persons who require nursing or personal care; "
            "Treatment of disease, disorder or injury",
        ),
        "CompletedByName": ("unmapped", None),
        "CompletedByJobTitle": ("value", "Registered manager"),
        "DateSubmitted": ("value", "2026-10-19"),
        "ContactTelephone": ("value", "01423 555 0100"),
        "ContactEmail": ("value", "manager.ashcourt@example.org.uk"),
        "UniqueIdentifier": ("value", "AC-R0077"),
        "DateBeganToUseService": ("value", "2023-05-02"),
        "AgeRange": ("value", "85+"),
        "CauseOfDeath": ("value", "Pneumonia"),
        "DateOfDeath": ("value", "2026-10-19"),
        "TimeOfDeath": ("value", "06:05"),  # as written, in local time
        "PlaceOfDeath": ("value", "The location at (1) above"),
        "EndOfLifeCare": ("value", True),
        "ExpectedDeath": ("value", True),
        "Circumstances": (
            "value",
            "Resident died peacefully overnight after a week of decline from pneumonia.",
        ),
        "ActionTaken": ("value", "Family and GP informed; the GP verified the death at 08:10."),
        "ProviderReference": ("value", "evt-ash-0031"),
    }


def test_cqc_death_in_hospital_with_details_to_come_and_no_service_entry() -> None:
    values = _values("cqc-death-notification", r.ash_deaths(), r.ASH, "evt-ash-0032")
    assert values["PlaceOfDeath"] == ("value", "Hospital")
    assert values["AgeRange"] == ("value", "65\u201374")  # an en dash, as on the CQC form
    assert values["CauseOfDeath"] == ("empty", None)  # the record exists; the cause is not known
    assert values["DateBeganToUseService"] == ("empty", None)
    assert values["EndOfLifeCare"] == ("value", False)
    assert values["ExpectedDeath"] == ("value", False)
    assert values["LocationName"] == ("no-source", None)  # no service entry was passed
