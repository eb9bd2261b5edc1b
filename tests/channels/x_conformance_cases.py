"""The weighted-length cases of the twitter-text conformance suite, for the X channel.

Copied from twitter/twitter-text @ 30e2430d, conformance/validate.yml, the sections
``WeightedTweetsCounterTest`` (configuration v2), ``WeightedTweetsWithDiscountedEmojiCounterTest``
(v3) and ``UnicodeDirectionalMarkerCounterTest`` (the default, v3): 44 cases, each text and
expected result as published (non-ASCII characters written as Python escapes).

    Copyright 2011 Twitter, Inc.

    Licensed under the Apache License, Version 2.0 (the "License"); you may not use this work
    except in compliance with the License. You may obtain a copy of the License at

        http://www.apache.org/licenses/LICENSE-2.0

    Unless required by applicable law or agreed to in writing, software distributed under the
    License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
    either express or implied. See the License for the specific language governing
    permissions and limitations under the License.
"""

from __future__ import annotations

from typing import Any

#: ``(section, configuration version, cases)``; each case is ``description``, ``text`` and
#: ``expected`` (``weightedLength``, ``valid``, ``permillage`` and the display and valid
#: ranges, inclusive, in UTF-16 code units).
SECTIONS: list[tuple[str, int, list[dict[str, Any]]]] = [
    ("WeightedTweetsCounterTest", 2, [
        {
            "description": 'Regular Tweet with url',
            "text": 'Hi http://test.co',
            "expected": {
                "weightedLength": 26, "valid": True, "permillage": 92, "displayRangeStart": 0,
                "displayRangeEnd": 16, "validRangeStart": 0, "validRangeEnd": 16,
            },
        },
        {
            "description": 'Just url',
            "text": 'http://test.co',
            "expected": {
                "weightedLength": 23, "valid": True, "permillage": 82, "displayRangeStart": 0,
                "displayRangeEnd": 13, "validRangeStart": 0, "validRangeEnd": 13,
            },
        },
        {
            "description": 'Long tweet, overflow at char index 280',
            "text": (
                '285 chars-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxx'
                'xxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
            ),
            "expected": {
                "weightedLength": 285, "valid": False, "permillage": 1017, "displayRangeStart": 0,
                "displayRangeEnd": 284, "validRangeStart": 0, "validRangeEnd": 279,
            },
        },
        {
            "description": 'Long tweet with url in the middle, overflow at char index 284',
            "text": (
                '285 chars- http://www.twitter.com/jack xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx'
                '-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxx'
                'xxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxx'
                'x-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
            ),
            "expected": {
                "weightedLength": 299, "valid": False, "permillage": 1067, "displayRangeStart": 0,
                "displayRangeEnd": 302, "validRangeStart": 0, "validRangeEnd": 283,
            },
        },
        {
            "description": 'Long tweet with url at the end, overflow at char index 265',
            "text": (
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx'
                '-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxx'
                'xxxxxx-xxxxxxxxxx- http://www.twitter.com/jack '
            ),
            "expected": {
                "weightedLength": 289, "valid": False, "permillage": 1032, "displayRangeStart": 0,
                "displayRangeEnd": 292, "validRangeStart": 0, "validRangeEnd": 264,
            },
        },
        {
            "description": '10 url string, no overflow',
            "text": (
                'https://www.twitter.com/aloha https://www.twitter.com/aloha https://www.twitter.co'
                'm/aloha https://www.twitter.com/aloha https://www.twitter.com/aloha https://www.tw'
                'itter.com/aloha https://www.twitter.com/aloha https://www.twitter.com/aloha https:'
                '//www.twitter.com/aloha https://www.twitter.com/aloha '
            ),
            "expected": {
                "weightedLength": 240, "valid": True, "permillage": 857, "displayRangeStart": 0,
                "displayRangeEnd": 299, "validRangeStart": 0, "validRangeEnd": 299,
            },
        },
        {
            "description": '160 CJK char, overflow at char index 140',
            "text": (
                '\u6545\u4eba\u897f\u8f9e\u9ec4\u9e64\u697c\uff0c\u70df\u82b1\u4e09\u6708\u4e0b'
                '\u626c\u5dde\u3002\u5b64\u5e06\u8fdc\u5f71\u78a7\u7a7a\u5c3d\uff0c\u552f\u89c1'
                '\u957f\u6c5f\u5929\u9645\u6d41\u3002\u6731\u96c0\u6865\u8fb9\u91ce\u8349\u82b1'
                '\uff0c\u4e4c\u8863\u5df7\u53e3\u5915\u9633\u659c\u3002\u65e7\u65f6\u738b\u8c22'
                '\u5802\u524d\u71d5\uff0c\u98de\u5165\u5bfb\u5e38\u767e\u59d3\u5bb6\u3002\u671d'
                '\u8f9e\u767d\u5e1d\u5f69\u4e91\u95f4\uff0c\u5343\u91cc\u6c5f\u9675\u4e00\u65e5'
                '\u8fd8\u3002\u4e24\u5cb8\u733f\u58f0\u557c\u4e0d\u4f4f\uff0c\u8f7b\u821f\u5df2'
                '\u8fc7\u4e07\u91cd\u5c71\u3002\u6cea\u6e7f\u7f57\u5dfe\u68a6\u4e0d\u6210\uff0c'
                '\u591c\u6df1\u524d\u6bbf\u6309\u6b4c\u58f0\u3002\u7ea2\u989c\u672a\u8001\u6069'
                '\u5148\u65ad\uff0c\u659c\u501a\u85b0\u7b3c\u5750\u5230\u660e\u3002\u72ec\u5728'
                '\u5f02\u4e61\u4e3a\u5f02\u5ba2\uff0c\u6bcf\u9022\u4f73\u8282\u500d\u601d\u4eb2'
                '\u3002\u9065\u77e5\u5144\u5f1f\u767b\u9ad8\u5904\uff0c\u904d\u63d2\u8331\u8438'
                '\u5c11\u4e00\u4eba\u3002'
            ),
            "expected": {
                "weightedLength": 320, "valid": False, "permillage": 1142, "displayRangeStart": 0,
                "displayRangeEnd": 159, "validRangeStart": 0, "validRangeEnd": 139,
            },
        },
        {
            "description": '160 emoji char, overflow at char index 140',
            "text": (
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
            ),
            "expected": {
                "weightedLength": 320, "valid": False, "permillage": 1142, "displayRangeStart": 0,
                "displayRangeEnd": 319, "validRangeStart": 0, "validRangeEnd": 279,
            },
        },
        {
            "description": '3 latin char + 160 CJK char, overflow at char index 141',
            "text": (
                'the\u6545\u4eba\u897f\u8f9e\u9ec4\u9e64\u697c\uff0c\u70df\u82b1\u4e09\u6708\u4e0b'
                '\u626c\u5dde\u3002\u5b64\u5e06\u8fdc\u5f71\u78a7\u7a7a\u5c3d\uff0c\u552f\u89c1'
                '\u957f\u6c5f\u5929\u9645\u6d41\u3002\u6731\u96c0\u6865\u8fb9\u91ce\u8349\u82b1'
                '\uff0c\u4e4c\u8863\u5df7\u53e3\u5915\u9633\u659c\u3002\u65e7\u65f6\u738b\u8c22'
                '\u5802\u524d\u71d5\uff0c\u98de\u5165\u5bfb\u5e38\u767e\u59d3\u5bb6\u3002\u671d'
                '\u8f9e\u767d\u5e1d\u5f69\u4e91\u95f4\uff0c\u5343\u91cc\u6c5f\u9675\u4e00\u65e5'
                '\u8fd8\u3002\u4e24\u5cb8\u733f\u58f0\u557c\u4e0d\u4f4f\uff0c\u8f7b\u821f\u5df2'
                '\u8fc7\u4e07\u91cd\u5c71\u3002\u6cea\u6e7f\u7f57\u5dfe\u68a6\u4e0d\u6210\uff0c'
                '\u591c\u6df1\u524d\u6bbf\u6309\u6b4c\u58f0\u3002\u7ea2\u989c\u672a\u8001\u6069'
                '\u5148\u65ad\uff0c\u659c\u501a\u85b0\u7b3c\u5750\u5230\u660e\u3002\u72ec\u5728'
                '\u5f02\u4e61\u4e3a\u5f02\u5ba2\uff0c\u6bcf\u9022\u4f73\u8282\u500d\u601d\u4eb2'
                '\u3002\u9065\u77e5\u5144\u5f1f\u767b\u9ad8\u5904\uff0c\u904d\u63d2\u8331\u8438'
                '\u5c11\u4e00\u4eba\u3002'
            ),
            "expected": {
                "weightedLength": 323, "valid": False, "permillage": 1153, "displayRangeStart": 0,
                "displayRangeEnd": 162, "validRangeStart": 0, "validRangeEnd": 140,
            },
        },
        {
            "description": "'A\u0301' is normalized into 1 char",
            "text": 'A\u0301B',
            "expected": {
                "weightedLength": 2, "valid": True, "permillage": 7, "displayRangeStart": 0,
                "displayRangeEnd": 2, "validRangeStart": 0, "validRangeEnd": 2,
            },
        },
        {
            "description": '\ufb2c is normalized into 3 chars',
            "text": 'A\ufb2c',
            "expected": {
                "weightedLength": 4, "valid": True, "permillage": 14, "displayRangeStart": 0,
                "displayRangeEnd": 1, "validRangeStart": 0, "validRangeEnd": 1,
            },
        },
        {
            "description": (
                '282 chars with a normalized character within valid range'
                ' but outside 280'
            ),
            "text": (
                '282 chars-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxx'
                'xxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxA\u0301x'
            ),
            "expected": {
                "weightedLength": 281, "valid": False, "permillage": 1003, "displayRangeStart": 0,
                "displayRangeEnd": 281, "validRangeStart": 0, "validRangeEnd": 280,
            },
        },
        {
            "description": (
                'Count a mix of single byte single word, and double word'
                ' unicode characters'
            ),
            "text": (
                'H\U0001f431\u263a\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466'
            ),
            "expected": {
                "weightedLength": 16, "valid": True, "permillage": 57, "displayRangeStart": 0,
                "displayRangeEnd": 14, "validRangeStart": 0, "validRangeEnd": 14,
            },
        },
        {
            "description": 'Count unicode emoji chars inside the basic multilingual plane',
            "text": '\U0001f637\U0001f47e\U0001f621\U0001f525\U0001f4a9',
            "expected": {
                "weightedLength": 10, "valid": True, "permillage": 35, "displayRangeStart": 0,
                "displayRangeEnd": 9, "validRangeStart": 0, "validRangeEnd": 9,
            },
        },
        {
            "description": (
                'Count unicode emoji chars outside the basic multilingual plane with skin tone modi'
                'fiers'
            ),
            "text": '\U0001f64b\U0001f3fd\U0001f468\u200d\U0001f3a4',
            "expected": {
                "weightedLength": 9, "valid": True, "permillage": 32, "displayRangeStart": 0,
                "displayRangeEnd": 8, "validRangeStart": 0, "validRangeEnd": 8,
            },
        },
        {
            "description": 'Handle General Punctuation Characters with visible spaces(u2000-200A)',
            "text": (
                'This is a tweet with general punctuation characters: \u2000\u2001\u2002\u2003'
                '\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u200c\u200d \u2010 \u2011 \u2012 '
                '\u2013 \u2014 \u2015 \u2016  \u2017 \u2018 \u2019 \u201a \u201b \u201c \u201d '
                '\u201e \u201f \u2032 \u2033 \u2034 \u2035 \u2036 \u2037'
            ),
            "expected": {
                "weightedLength": 112, "valid": True, "permillage": 400, "displayRangeStart": 0,
                "displayRangeEnd": 111, "validRangeStart": 0, "validRangeEnd": 111,
            },
        },
        {
            "description": 'Handle long url with invalid domain labels and short url',
            "text": (
                'Long url with invalid domain labels and a short url: https://somesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurl.com/foo https://somesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurl.com/foo https://somesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl.com/fo'
                'o https://validurl.com'
            ),
            "expected": {
                "weightedLength": 12079, "valid": False, "permillage": 43139,
                "displayRangeStart": 0, "displayRangeEnd": 12075, "validRangeStart": 0,
                "validRangeEnd": 279,
            },
        },
        {
            "description": 'Handle a 64 character domain without protocol',
            "text": 'randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com',
            "expected": {
                "weightedLength": 68, "valid": True, "permillage": 242, "displayRangeStart": 0,
                "displayRangeEnd": 67, "validRangeStart": 0, "validRangeEnd": 67,
            },
        },
        {
            "description": (
                'Do not allow > 140 CJK characters by virtue of CJK chars greater than 63 punycode '
                'encoded chars in the host'
            ),
            "text": (
                '\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046'
                '\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b'
                '\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042'
                '\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048'
                '\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d'
                '\u304f\u3051\u3053 http://\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046.com'
            ),
            "expected": {
                "weightedLength": 358, "valid": False, "permillage": 1278, "displayRangeStart": 0,
                "displayRangeEnd": 184, "validRangeStart": 0, "validRangeEnd": 143,
            },
        },
        {
            "description": (
                'Allow > 140 CJK characters by virtue of CJK chars less than 63 punycode encoded ch'
                'ars in the host'
            ),
            "text": (
                '\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046'
                '\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b'
                '\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042'
                '\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048'
                '\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d'
                '\u304f\u3051\u3053 http://\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044.com'
            ),
            "expected": {
                "weightedLength": 264, "valid": True, "permillage": 942, "displayRangeStart": 0,
                "displayRangeEnd": 183, "validRangeStart": 0, "validRangeEnd": 183,
            },
        },
    ]),
    ("WeightedTweetsWithDiscountedEmojiCounterTest", 3, [
        {
            "description": 'Regular Tweet with url',
            "text": 'Hi http://test.co',
            "expected": {
                "weightedLength": 26, "valid": True, "permillage": 92, "displayRangeStart": 0,
                "displayRangeEnd": 16, "validRangeStart": 0, "validRangeEnd": 16,
            },
        },
        {
            "description": 'Just url',
            "text": 'http://test.co',
            "expected": {
                "weightedLength": 23, "valid": True, "permillage": 82, "displayRangeStart": 0,
                "displayRangeEnd": 13, "validRangeStart": 0, "validRangeEnd": 13,
            },
        },
        {
            "description": 'Long tweet, overflow at char index 280',
            "text": (
                '285 chars-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxx'
                'xxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
            ),
            "expected": {
                "weightedLength": 285, "valid": False, "permillage": 1017, "displayRangeStart": 0,
                "displayRangeEnd": 284, "validRangeStart": 0, "validRangeEnd": 279,
            },
        },
        {
            "description": 'Long tweet with url in the middle, overflow at char index 284',
            "text": (
                '285 chars- http://www.twitter.com/jack xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx'
                '-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxx'
                'xxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxx'
                'x-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
            ),
            "expected": {
                "weightedLength": 299, "valid": False, "permillage": 1067, "displayRangeStart": 0,
                "displayRangeEnd": 302, "validRangeStart": 0, "validRangeEnd": 283,
            },
        },
        {
            "description": 'Long tweet with url at the end, overflow at char index 265',
            "text": (
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx'
                '-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxx'
                'xxxxxx-xxxxxxxxxx- http://www.twitter.com/jack '
            ),
            "expected": {
                "weightedLength": 289, "valid": False, "permillage": 1032, "displayRangeStart": 0,
                "displayRangeEnd": 292, "validRangeStart": 0, "validRangeEnd": 264,
            },
        },
        {
            "description": '10 url string, no overflow',
            "text": (
                'https://www.twitter.com/aloha https://www.twitter.com/aloha https://www.twitter.co'
                'm/aloha https://www.twitter.com/aloha https://www.twitter.com/aloha https://www.tw'
                'itter.com/aloha https://www.twitter.com/aloha https://www.twitter.com/aloha https:'
                '//www.twitter.com/aloha https://www.twitter.com/aloha '
            ),
            "expected": {
                "weightedLength": 240, "valid": True, "permillage": 857, "displayRangeStart": 0,
                "displayRangeEnd": 299, "validRangeStart": 0, "validRangeEnd": 299,
            },
        },
        {
            "description": '160 CJK char, overflow at char index 140',
            "text": (
                '\u6545\u4eba\u897f\u8f9e\u9ec4\u9e64\u697c\uff0c\u70df\u82b1\u4e09\u6708\u4e0b'
                '\u626c\u5dde\u3002\u5b64\u5e06\u8fdc\u5f71\u78a7\u7a7a\u5c3d\uff0c\u552f\u89c1'
                '\u957f\u6c5f\u5929\u9645\u6d41\u3002\u6731\u96c0\u6865\u8fb9\u91ce\u8349\u82b1'
                '\uff0c\u4e4c\u8863\u5df7\u53e3\u5915\u9633\u659c\u3002\u65e7\u65f6\u738b\u8c22'
                '\u5802\u524d\u71d5\uff0c\u98de\u5165\u5bfb\u5e38\u767e\u59d3\u5bb6\u3002\u671d'
                '\u8f9e\u767d\u5e1d\u5f69\u4e91\u95f4\uff0c\u5343\u91cc\u6c5f\u9675\u4e00\u65e5'
                '\u8fd8\u3002\u4e24\u5cb8\u733f\u58f0\u557c\u4e0d\u4f4f\uff0c\u8f7b\u821f\u5df2'
                '\u8fc7\u4e07\u91cd\u5c71\u3002\u6cea\u6e7f\u7f57\u5dfe\u68a6\u4e0d\u6210\uff0c'
                '\u591c\u6df1\u524d\u6bbf\u6309\u6b4c\u58f0\u3002\u7ea2\u989c\u672a\u8001\u6069'
                '\u5148\u65ad\uff0c\u659c\u501a\u85b0\u7b3c\u5750\u5230\u660e\u3002\u72ec\u5728'
                '\u5f02\u4e61\u4e3a\u5f02\u5ba2\uff0c\u6bcf\u9022\u4f73\u8282\u500d\u601d\u4eb2'
                '\u3002\u9065\u77e5\u5144\u5f1f\u767b\u9ad8\u5904\uff0c\u904d\u63d2\u8331\u8438'
                '\u5c11\u4e00\u4eba\u3002'
            ),
            "expected": {
                "weightedLength": 320, "valid": False, "permillage": 1142, "displayRangeStart": 0,
                "displayRangeEnd": 159, "validRangeStart": 0, "validRangeEnd": 139,
            },
        },
        {
            "description": '160 emoji char, overflow at char index 140',
            "text": (
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
                '\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637\U0001f637'
            ),
            "expected": {
                "weightedLength": 320, "valid": False, "permillage": 1142, "displayRangeStart": 0,
                "displayRangeEnd": 319, "validRangeStart": 0, "validRangeEnd": 279,
            },
        },
        {
            "description": '3 latin char + 160 CJK char, overflow at char index 141',
            "text": (
                'the\u6545\u4eba\u897f\u8f9e\u9ec4\u9e64\u697c\uff0c\u70df\u82b1\u4e09\u6708\u4e0b'
                '\u626c\u5dde\u3002\u5b64\u5e06\u8fdc\u5f71\u78a7\u7a7a\u5c3d\uff0c\u552f\u89c1'
                '\u957f\u6c5f\u5929\u9645\u6d41\u3002\u6731\u96c0\u6865\u8fb9\u91ce\u8349\u82b1'
                '\uff0c\u4e4c\u8863\u5df7\u53e3\u5915\u9633\u659c\u3002\u65e7\u65f6\u738b\u8c22'
                '\u5802\u524d\u71d5\uff0c\u98de\u5165\u5bfb\u5e38\u767e\u59d3\u5bb6\u3002\u671d'
                '\u8f9e\u767d\u5e1d\u5f69\u4e91\u95f4\uff0c\u5343\u91cc\u6c5f\u9675\u4e00\u65e5'
                '\u8fd8\u3002\u4e24\u5cb8\u733f\u58f0\u557c\u4e0d\u4f4f\uff0c\u8f7b\u821f\u5df2'
                '\u8fc7\u4e07\u91cd\u5c71\u3002\u6cea\u6e7f\u7f57\u5dfe\u68a6\u4e0d\u6210\uff0c'
                '\u591c\u6df1\u524d\u6bbf\u6309\u6b4c\u58f0\u3002\u7ea2\u989c\u672a\u8001\u6069'
                '\u5148\u65ad\uff0c\u659c\u501a\u85b0\u7b3c\u5750\u5230\u660e\u3002\u72ec\u5728'
                '\u5f02\u4e61\u4e3a\u5f02\u5ba2\uff0c\u6bcf\u9022\u4f73\u8282\u500d\u601d\u4eb2'
                '\u3002\u9065\u77e5\u5144\u5f1f\u767b\u9ad8\u5904\uff0c\u904d\u63d2\u8331\u8438'
                '\u5c11\u4e00\u4eba\u3002'
            ),
            "expected": {
                "weightedLength": 323, "valid": False, "permillage": 1153, "displayRangeStart": 0,
                "displayRangeEnd": 162, "validRangeStart": 0, "validRangeEnd": 140,
            },
        },
        {
            "description": (
                '282 chars with a normalized character within valid range'
                ' but outside 280'
            ),
            "text": (
                '282 chars-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxx'
                'xxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-'
                'xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxx'
                'xxxxx-xxxxxxxxxx-xxxxxxxxxx-xxxxxA\u0301x'
            ),
            "expected": {
                "weightedLength": 281, "valid": False, "permillage": 1003, "displayRangeStart": 0,
                "displayRangeEnd": 281, "validRangeStart": 0, "validRangeEnd": 280,
            },
        },
        {
            "description": (
                'Count a mix of single byte single word, and double word'
                ' unicode characters'
            ),
            "text": (
                'H\U0001f431\u263a\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466'
            ),
            "expected": {
                "weightedLength": 7, "valid": True, "permillage": 25, "displayRangeStart": 0,
                "displayRangeEnd": 14, "validRangeStart": 0, "validRangeEnd": 14,
            },
        },
        {
            "description": 'Count unicode emoji chars inside the basic multilingual plane',
            "text": '\U0001f637\U0001f47e\U0001f621\U0001f525\U0001f4a9',
            "expected": {
                "weightedLength": 10, "valid": True, "permillage": 35, "displayRangeStart": 0,
                "displayRangeEnd": 9, "validRangeStart": 0, "validRangeEnd": 9,
            },
        },
        {
            "description": (
                'Count unicode emoji chars outside the basic multilingual plane with skin tone modi'
                'fiers'
            ),
            "text": '\U0001f64b\U0001f3fd\U0001f468\u200d\U0001f3a4',
            "expected": {
                "weightedLength": 4, "valid": True, "permillage": 14, "displayRangeStart": 0,
                "displayRangeEnd": 8, "validRangeStart": 0, "validRangeEnd": 8,
            },
        },
        {
            "description": (
                'Handle General Punctuation Characters with visible spaces(u2000-200A), no ZWJ/ZWNJ'
            ),
            "text": (
                'This is a tweet with general punctuation characters: \u2000\u2001\u2002\u2003'
                '\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b \u2010 \u2011 \u2012 \u2013 '
                '\u2014 \u2015 \u2016  \u2017 \u2018 \u2019 \u201a \u201b \u201c \u201d \u201e '
                '\u201f \u2032 \u2033 \u2034 \u2035 \u2036 \u2037'
            ),
            "expected": {
                "weightedLength": 110, "valid": True, "permillage": 392, "displayRangeStart": 0,
                "displayRangeEnd": 109, "validRangeStart": 0, "validRangeEnd": 109,
            },
        },
        {
            "description": 'Handle long url with invalid domain labels and short url',
            "text": (
                'Long url with invalid domain labels and a short url: https://somesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurl.com/foo https://somesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesupe'
                'rlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperl'
                'ongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlon'
                'gurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongu'
                'rlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl'
                'somesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlso'
                'mesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsome'
                'superlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesu'
                'perlongurl.com/foo https://somesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesup'
                'erlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuper'
                'longurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlo'
                'ngurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlong'
                'urlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongur'
                'lsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurls'
                'omesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsom'
                'esuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomes'
                'uperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurlsomesuperlongurl.com/fo'
                'o https://validurl.com'
            ),
            "expected": {
                "weightedLength": 12079, "valid": False, "permillage": 43139,
                "displayRangeStart": 0, "displayRangeEnd": 12075, "validRangeStart": 0,
                "validRangeEnd": 279,
            },
        },
        {
            "description": 'Handle a 64 character domain without protocol',
            "text": 'randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com',
            "expected": {
                "weightedLength": 68, "valid": True, "permillage": 242, "displayRangeStart": 0,
                "displayRangeEnd": 67, "validRangeStart": 0, "validRangeEnd": 67,
            },
        },
        {
            "description": (
                'Do not allow > 140 CJK characters by virtue of CJK chars greater than 63 punycode '
                'encoded chars in the host'
            ),
            "text": (
                '\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046'
                '\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b'
                '\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042'
                '\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048'
                '\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d'
                '\u304f\u3051\u3053 http://\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046.com'
            ),
            "expected": {
                "weightedLength": 358, "valid": False, "permillage": 1278, "displayRangeStart": 0,
                "displayRangeEnd": 184, "validRangeStart": 0, "validRangeEnd": 143,
            },
        },
        {
            "description": (
                'Allow > 140 CJK characters by virtue of CJK chars less than 63 punycode encoded ch'
                'ars in the host'
            ),
            "text": (
                '\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046'
                '\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b'
                '\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042'
                '\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048'
                '\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d'
                '\u304f\u3051\u3053 http://\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051'
                '\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044'
                '\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a'
                '\u304b\u304d\u304f\u3051\u3053\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f'
                '\u3051\u3053\u3042\u3044.com'
            ),
            "expected": {
                "weightedLength": 264, "valid": True, "permillage": 942, "displayRangeStart": 0,
                "displayRangeEnd": 183, "validRangeStart": 0, "validRangeEnd": 183,
            },
        },
        {
            "description": '140 family emoji',
            "text": (
                '\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d'
                '\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468'
                '\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d'
                '\U0001f467\u200d\U0001f466\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d'
                '\U0001f466'
            ),
            "expected": {
                "weightedLength": 280, "valid": True, "permillage": 1000, "displayRangeStart": 0,
                "displayRangeEnd": 1539, "validRangeStart": 0, "validRangeEnd": 1539,
            },
        },
        {
            "description": 'Emoji with a leading character in the latin range is counted as 2',
            "text": '1\u20e3',
            "expected": {
                "weightedLength": 2, "valid": True, "permillage": 7, "displayRangeStart": 0,
                "displayRangeEnd": 1, "validRangeStart": 0, "validRangeEnd": 1,
            },
        },
        {
            "description": 'Unicode 10.0 emoji',
            "text": (
                'Unicode 10.0 emoji: \U0001f92a; \U0001f9d5; \U0001f9d5\U0001f3fe; \U0001f3f4'
                '\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f'
            ),
            "expected": {
                "weightedLength": 34, "valid": True, "permillage": 121, "displayRangeStart": 0,
                "displayRangeEnd": 47, "validRangeStart": 0, "validRangeEnd": 47,
            },
        },
        {
            "description": 'Unicode 9.0 emoji',
            "text": 'Unicode 9.0 emoji: \U0001f920; \U0001f483; \U0001f483\U0001f3fe',
            "expected": {
                "weightedLength": 29, "valid": True, "permillage": 103, "displayRangeStart": 0,
                "displayRangeEnd": 30, "validRangeStart": 0, "validRangeEnd": 30,
            },
        },
    ]),
    ("UnicodeDirectionalMarkerCounterTest", 3, [
        {
            "description": 'Handle invalid characters',
            "text": 'ABC\u202a\uffffABC\ufffe',
            "expected": {
                "weightedLength": 12, "valid": False, "permillage": 42, "displayRangeStart": 0,
                "displayRangeEnd": 8, "validRangeStart": 0, "validRangeEnd": 3,
            },
        },
        {
            "description": (
                'Tweet text containing directional characters should be'
                ' considered valid'
            ),
            "text": (
                '\u2066\u202ahttp://foobar.\u067e\u0627\u06a9\u0633\u062a\u0627\u0646/\u202c\u2069'
            ),
            "expected": {
                "weightedLength": 31, "valid": True, "permillage": 110, "displayRangeStart": 0,
                "displayRangeEnd": 25, "validRangeStart": 0, "validRangeEnd": 25,
            },
        },
    ]),
]
