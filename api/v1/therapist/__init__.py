"""Clinic-staff endpoints of API v1 (patients, programs, records, alerts) and the library.

Therapists and clinic admins see every patient of their own clinic (the issue scopes staff to
the clinic, not to their own caseload); another clinic's objects answer 404.
"""
