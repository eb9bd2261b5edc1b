"""The PHI scanner on hospital posts written after it was built (not its development set).

Each post's identifiers are labelled by hand; the scanner must find at least 90% of them.
Posts without PHI may still get raw findings here (the brand's own address and phone, staff
names): the guard's allow-lists take those out, see test_phi_guard.py.
"""

from __future__ import annotations

from carecast.compliance.phi import detect

# (text, [(substring, CATEGORY), ...]); each substring is found at its first occurrence.
POSTS = [
 ("Huge thanks to our patient Deborah Klinefelter, who walked out of the ICU on Tuesday!",
  [("Deborah Klinefelter", "NAME")]),
 ("Baby Oliver Martinez was born on March 3, 2026 at 2:14 a.m. weighing 7 lbs.",
  [("Oliver Martinez", "NAME"), ("March 3, 2026", "DATE")]),
 ("Patient transfer: MRN 00451287, room 4B, admitted 11/02/2026.",
  [("00451287", "MRN"), ("11/02/2026", "DATE")]),
 ("Reminder: flu shots Saturday 9 a.m.-3 p.m. at 1200 Riverside Drive, Springfield. "
  "Call 555-010-4477.",
  []),
 ("Our oldest patient, Mr. Harold Finch (age 97), celebrated his birthday on the ward.",
  [("Harold Finch", "NAME"), ("97", "OTHER_ID")]),
 ("Family of Jane Okonkwo: please contact jokonkwo88@gmail.com about visiting hours.",
  [("Jane Okonkwo", "NAME"), ("jokonkwo88@gmail.com", "EMAIL")]),
 ("Great news from Dr. Priya Raman's team: stroke response times are down 20% this year.",
  []),
 ("Ms. Tanaka from Room 312 wants to thank the night nurses.",
  [("Tanaka", "NAME")]),
 ("Discharged today after 40 days: Luis Alvarez, 58, of 4417 Maple Avenue, Dayton.",
  [("Luis Alvarez", "NAME"), ("4417 Maple Avenue", "LOCATION"), ("Dayton", "LOCATION")]),
 ("Insurance question? Members can call the number on the back of their card.",
  []),
 ("Policy number HP-448812093 was flagged for review by billing.",
  [("HP-448812093", "HEALTH_PLAN")]),
 ("Her SSN 219-09-9999 was accidentally shown on the screen in the photo.",
  [("219-09-9999", "SSN")]),
 ("The CHA2DS2-VASc score and HbA1c of 7.2 are explained in our new video.",
  []),
 ("Congratulations to Nurse Amy Chen on 25 years at Riverside General!",
  []),
 ("Little Sophie Nguyen, 6, rang the bell today after her last chemo session in Fresno.",
  [("Sophie Nguyen", "NAME"), ("Fresno", "LOCATION")]),
 ("Thank you to the Garcia family for the flowers sent to Ward 7 on 14 October.",
  [("Garcia", "NAME"), ("14 October", "DATE")]),
 ("Visit our site https://www.riverside-general.example/heart for heart month events.",
  []),
 ("Patient photo shared from device IMEI 356938035643809 by mistake; removed.",
  [("356938035643809", "DEVICE")]),
 ("Our ambulance with plate 7ABC123 was at the scene in Oakland within 8 minutes.",
  [("7ABC123", "VEHICLE"), ("Oakland", "LOCATION")]),
 ("Mrs. Eleanor Whitfield, born 02/14/1931, is our first centenarian knee replacement.",
  [("Eleanor Whitfield", "NAME"), ("02/14/1931", "DATE")]),
 ("Blood drive this Friday in the main lobby. Walk-ins welcome.",
  []),
 ("Shout-out to Marcus Bell, who donated his kidney to his brother at our transplant center.",
  [("Marcus Bell", "NAME")]),
 ("Lab results for account 7734-221-098 were mailed to 88 Elm Street, Apt 5, Columbus OH 43215.",
  [("7734-221-098", "ACCOUNT"), ("88 Elm Street, Apt 5", "LOCATION"), ("Columbus", "LOCATION"),
   ("43215", "LOCATION")]),
 ("Happy Nurses Week! Our 1,200 nurses made 48,000 home visits last year.",
  []),
 ("Wishing a speedy recovery to Coach Ray Dunn, admitted last night with chest pain.",
  [("Ray Dunn", "NAME")]),
 ("Fax the referral to 555-010-9921 and include the patient's date of birth.",
  [("555-010-9921", "FAX")]),
 ("Our patient Ahmed Hassan can now hold his daughter again after hand surgery.",
  [("Ahmed Hassan", "NAME")]),
 ("The IP 10.24.118.7 logged into the patient portal for Kim Do-yun at 3 a.m.",
  [("10.24.118.7", "IP"), ("Kim Do-yun", "NAME")]),
 ("New parking garage opens June 1 on Hospital Way. Free for the first week.",
  []),
 ("Read Grace O'Malley's story of beating sepsis at "
  "riverside-general.example/stories/grace-omalley",
  [("Grace O'Malley", "NAME"), ("riverside-general.example/stories/grace-omalley", "URL")]),
]


def test_recall_on_posts_written_after_the_scanner() -> None:
    found = missed = 0
    for text, gold in POSTS:
        predicted = detect(text)
        for piece, _category in gold:
            start = text.index(piece)
            end = start + len(piece)
            if any(s < end and start < e for s, e, _ in predicted):
                found += 1
            else:
                missed += 1
    assert found / (found + missed) >= 0.9, (found, missed)
