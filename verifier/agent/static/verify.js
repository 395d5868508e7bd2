// In-browser verification of a card, for when the agent's device has no network.
//
// This is a second implementation of cardformat.token.verify_card (the reference, in Python)
// plus the verifier's status-list step, over a snapshot of the trust store
// (GET /api/v1/trust-snapshot). It must reach the same result code as the server for every
// input: tests/e2e/verifier/test_parity.py runs every card-format vector through both. So the
// checks below run in the reference's order, and every structural oddity the reference refuses
// is refused here with the same code.
//
// No DOM access here: the module also runs under node's test runner (tests/js/).

const PREFIX = "MC1:";
const MAX_TEXT_LENGTH = 512;
const MAX_NAME_BYTES = 100;
const MAX_STATUS_INDEX = 2 ** 32 - 1;
export const CLOCK_SKEW_SECONDS = 5 * 60;
const MAX_DEPTH = 16;
const KID_LENGTH = 8;
const SIGNATURE_LENGTH = 64;
// Ed25519's field prime, and the y coordinates of its eight points of small order (as
// cardformat/keys.py): a signature whose R is one of them is refused, as libsodium does.
const FIELD_PRIME = 2n ** 255n - 19n;
const Y_ORDER_8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([1n, FIELD_PRIME - 1n, 0n, Y_ORDER_8, FIELD_PRIME - Y_ORDER_8]);
const ALG_EDDSA = -8;
const TAG_SIGN1 = 18;
const TAG_EPOCH_DAYS = 100;
const CLAIM_ISS = 1;
const CLAIM_EXP = 4;
const CLAIM_IAT = 6;
const CLAIM_CARD = -65537;
// docs/card-format.md section 3: every NumericDate is at most 2^32 - 1, and a birth date lies
// from 0001-01-01 to 9999-12-31 (in days since 1970-01-01).
const MAX_NUMERIC_DATE = 2 ** 32 - 1;
const MIN_EPOCH_DAY = -719162;
const MAX_EPOCH_DAY = 2932896;
const CARD_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CARD_NUMBER_MAX = 32 ** 6 - 1;
const ISSUER_CODE = /^[A-Z]{2} [A-Z2-9]{3}$/;
const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
// Tags the reference's CBOR library turns into other objects (dates, big numbers, sets...):
// re-encoding them never gives the same bytes back, so they are never canonical. Tag 100 is
// handled where the format allows it (the birth date).
const SEMANTIC_TAGS = new Set([
  0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 38, 52, 54, 256, 258, 260, 261, 1004, 55799,
]);
// Python's str.strip() and str.isspace(): the reference refuses names that start or end with
// any of these, which is not the same set as JavaScript's trim().
const PY_SPACE = new Set(
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" +
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);
// The holder-name rule (docs/card-format.md section 3.2, cardformat/names.py). Code points a
// name may not hold, fixed at Unicode 14.0 whatever version this engine carries: controls,
// format characters but ZWNJ and ZWJ, surrogates, private use, unassigned, line and paragraph
// separators, markup symbols and the Arabic word ligatures. The same string as
// cardformat/_unicode14.py; both are written by scripts/unicode14_tables.py.
const NAME_FORBIDDEN_RANGES =
  "0-1F,22-22,24-24,2A-2A,3B-3E,5B-5E,60-60,7B-9F,AD-AD,378-379,380-383,38B-38B,38D-38D,3A2" +
  "-3A2,530-530,557-558,58B-58C,590-590,5C8-5CF,5EB-5EE,5F5-605,61C-61C,6DD-6DD,70E-70F,74B" +
  "-74C,7B2-7BF,7FB-7FC,82E-82F,83F-83F,85C-85D,85F-85F,86B-86F,88F-897,8E2-8E2,984-984,98D" +
  "-98E,991-992,9A9-9A9,9B1-9B1,9B3-9B5,9BA-9BB,9C5-9C6,9C9-9CA,9CF-9D6,9D8-9DB,9DE-9DE,9E4" +
  "-9E5,9FF-A00,A04-A04,A0B-A0E,A11-A12,A29-A29,A31-A31,A34-A34,A37-A37,A3A-A3B,A3D-A3D,A43" +
  "-A46,A49-A4A,A4E-A50,A52-A58,A5D-A5D,A5F-A65,A77-A80,A84-A84,A8E-A8E,A92-A92,AA9-AA9,AB1" +
  "-AB1,AB4-AB4,ABA-ABB,AC6-AC6,ACA-ACA,ACE-ACF,AD1-ADF,AE4-AE5,AF2-AF8,B00-B00,B04-B04,B0D" +
  "-B0E,B11-B12,B29-B29,B31-B31,B34-B34,B3A-B3B,B45-B46,B49-B4A,B4E-B54,B58-B5B,B5E-B5E,B64" +
  "-B65,B78-B81,B84-B84,B8B-B8D,B91-B91,B96-B98,B9B-B9B,B9D-B9D,BA0-BA2,BA5-BA7,BAB-BAD,BBA" +
  "-BBD,BC3-BC5,BC9-BC9,BCE-BCF,BD1-BD6,BD8-BE5,BFB-BFF,C0D-C0D,C11-C11,C29-C29,C3A-C3B,C45" +
  "-C45,C49-C49,C4E-C54,C57-C57,C5B-C5C,C5E-C5F,C64-C65,C70-C76,C8D-C8D,C91-C91,CA9-CA9,CB4" +
  "-CB4,CBA-CBB,CC5-CC5,CC9-CC9,CCE-CD4,CD7-CDC,CDF-CDF,CE4-CE5,CF0-CF0,CF3-CFF,D0D-D0D,D11" +
  "-D11,D45-D45,D49-D49,D50-D53,D64-D65,D80-D80,D84-D84,D97-D99,DB2-DB2,DBC-DBC,DBE-DBF,DC7" +
  "-DC9,DCB-DCE,DD5-DD5,DD7-DD7,DE0-DE5,DF0-DF1,DF5-E00,E3B-E3E,E5C-E80,E83-E83,E85-E85,E8B" +
  "-E8B,EA4-EA4,EA6-EA6,EBE-EBF,EC5-EC5,EC7-EC7,ECE-ECF,EDA-EDB,EE0-EFF,F48-F48,F6D-F70,F98" +
  "-F98,FBD-FBD,FCD-FCD,FDB-FFF,10C6-10C6,10C8-10CC,10CE-10CF,1249-1249,124E-124F,1257-1257" +
  ",1259-1259,125E-125F,1289-1289,128E-128F,12B1-12B1,12B6-12B7,12BF-12BF,12C1-12C1,12C6-12" +
  "C7,12D7-12D7,1311-1311,1316-1317,135B-135C,137D-137F,139A-139F,13F6-13F7,13FE-13FF,169D-" +
  "169F,16F9-16FF,1716-171E,1737-173F,1754-175F,176D-176D,1771-1771,1774-177F,17DE-17DF,17E" +
  "A-17EF,17FA-17FF,180E-180E,181A-181F,1879-187F,18AB-18AF,18F6-18FF,191F-191F,192C-192F,1" +
  "93C-193F,1941-1943,196E-196F,1975-197F,19AC-19AF,19CA-19CF,19DB-19DD,1A1C-1A1D,1A5F-1A5F" +
  ",1A7D-1A7E,1A8A-1A8F,1A9A-1A9F,1AAE-1AAF,1ACF-1AFF,1B4D-1B4F,1B7F-1B7F,1BF4-1BFB,1C38-1C" +
  "3A,1C4A-1C4C,1C89-1C8F,1CBB-1CBC,1CC8-1CCF,1CFB-1CFF,1F16-1F17,1F1E-1F1F,1F46-1F47,1F4E-" +
  "1F4F,1F58-1F58,1F5A-1F5A,1F5C-1F5C,1F5E-1F5E,1F7E-1F7F,1FB5-1FB5,1FC5-1FC5,1FD4-1FD5,1FD" +
  "C-1FDC,1FF0-1FF1,1FF5-1FF5,1FFF-1FFF,200B-200B,200E-200F,2028-202E,2060-206F,2072-2073,2" +
  "08F-208F,209D-209F,20C1-20CF,20F1-20FF,218C-218F,2427-243F,244B-245F,2B74-2B75,2B96-2B96" +
  ",2CF4-2CF8,2D26-2D26,2D28-2D2C,2D2E-2D2F,2D68-2D6E,2D71-2D7E,2D97-2D9F,2DA7-2DA7,2DAF-2D" +
  "AF,2DB7-2DB7,2DBF-2DBF,2DC7-2DC7,2DCF-2DCF,2DD7-2DD7,2DDF-2DDF,2E5E-2E7F,2E9A-2E9A,2EF4-" +
  "2EFF,2FD6-2FEF,2FFC-2FFF,3040-3040,3097-3098,3100-3104,3130-3130,318F-318F,31E4-31EF,321" +
  "F-321F,A48D-A48F,A4C7-A4CF,A62C-A63F,A6F8-A6FF,A7CB-A7CF,A7D2-A7D2,A7D4-A7D4,A7DA-A7F1,A" +
  "82D-A82F,A83A-A83F,A878-A87F,A8C6-A8CD,A8DA-A8DF,A954-A95E,A97D-A97F,A9CE-A9CE,A9DA-A9DD" +
  ",A9FF-A9FF,AA37-AA3F,AA4E-AA4F,AA5A-AA5B,AAC3-AADA,AAF7-AB00,AB07-AB08,AB0F-AB10,AB17-AB" +
  "1F,AB27-AB27,AB2F-AB2F,AB6C-AB6F,ABEE-ABEF,ABFA-ABFF,D7A4-D7AF,D7C7-D7CA,D7FC-F8FF,FA6E-" +
  "FA6F,FADA-FAFF,FB07-FB12,FB18-FB1C,FB37-FB37,FB3D-FB3D,FB3F-FB3F,FB42-FB42,FB45-FB45,FBC" +
  "3-FBD2,FD40-FD4F,FD90-FD91,FDC8-FDFF,FE1A-FE1F,FE53-FE53,FE67-FE67,FE6C-FE6F,FE75-FE75,F" +
  "EFD-FF00,FFBF-FFC1,FFC8-FFC9,FFD0-FFD1,FFD8-FFD9,FFDD-FFDF,FFE7-FFE7,FFEF-FFFB,FFFE-FFFF" +
  ",1000C-1000C,10027-10027,1003B-1003B,1003E-1003E,1004E-1004F,1005E-1007F,100FB-100FF,101" +
  "03-10106,10134-10136,1018F-1018F,1019D-1019F,101A1-101CF,101FE-1027F,1029D-1029F,102D1-1" +
  "02DF,102FC-102FF,10324-1032C,1034B-1034F,1037B-1037F,1039E-1039E,103C4-103C7,103D6-103FF" +
  ",1049E-1049F,104AA-104AF,104D4-104D7,104FC-104FF,10528-1052F,10564-1056E,1057B-1057B,105" +
  "8B-1058B,10593-10593,10596-10596,105A2-105A2,105B2-105B2,105BA-105BA,105BD-105FF,10737-1" +
  "073F,10756-1075F,10768-1077F,10786-10786,107B1-107B1,107BB-107FF,10806-10807,10809-10809" +
  ",10836-10836,10839-1083B,1083D-1083E,10856-10856,1089F-108A6,108B0-108DF,108F3-108F3,108" +
  "F6-108FA,1091C-1091E,1093A-1093E,10940-1097F,109B8-109BB,109D0-109D1,10A04-10A04,10A07-1" +
  "0A0B,10A14-10A14,10A18-10A18,10A36-10A37,10A3B-10A3E,10A49-10A4F,10A59-10A5F,10AA0-10ABF" +
  ",10AE7-10AEA,10AF7-10AFF,10B36-10B38,10B56-10B57,10B73-10B77,10B92-10B98,10B9D-10BA8,10B" +
  "B0-10BFF,10C49-10C7F,10CB3-10CBF,10CF3-10CF9,10D28-10D2F,10D3A-10E5F,10E7F-10E7F,10EAA-1" +
  "0EAA,10EAE-10EAF,10EB2-10EFF,10F28-10F2F,10F5A-10F6F,10F8A-10FAF,10FCC-10FDF,10FF7-10FFF" +
  ",1104E-11051,11076-1107E,110BD-110BD,110C3-110CF,110E9-110EF,110FA-110FF,11135-11135,111" +
  "48-1114F,11177-1117F,111E0-111E0,111F5-111FF,11212-11212,1123F-1127F,11287-11287,11289-1" +
  "1289,1128E-1128E,1129E-1129E,112AA-112AF,112EB-112EF,112FA-112FF,11304-11304,1130D-1130E" +
  ",11311-11312,11329-11329,11331-11331,11334-11334,1133A-1133A,11345-11346,11349-1134A,113" +
  "4E-1134F,11351-11356,11358-1135C,11364-11365,1136D-1136F,11375-113FF,1145C-1145C,11462-1" +
  "147F,114C8-114CF,114DA-1157F,115B6-115B7,115DE-115FF,11645-1164F,1165A-1165F,1166D-1167F" +
  ",116BA-116BF,116CA-116FF,1171B-1171C,1172C-1172F,11747-117FF,1183C-1189F,118F3-118FE,119" +
  "07-11908,1190A-1190B,11914-11914,11917-11917,11936-11936,11939-1193A,11947-1194F,1195A-1" +
  "199F,119A8-119A9,119D8-119D9,119E5-119FF,11A48-11A4F,11AA3-11AAF,11AF9-11BFF,11C09-11C09" +
  ",11C37-11C37,11C46-11C4F,11C6D-11C6F,11C90-11C91,11CA8-11CA8,11CB7-11CFF,11D07-11D07,11D" +
  "0A-11D0A,11D37-11D39,11D3B-11D3B,11D3E-11D3E,11D48-11D4F,11D5A-11D5F,11D66-11D66,11D69-1" +
  "1D69,11D8F-11D8F,11D92-11D92,11D99-11D9F,11DAA-11EDF,11EF9-11FAF,11FB1-11FBF,11FF2-11FFE" +
  ",1239A-123FF,1246F-1246F,12475-1247F,12544-12F8F,12FF3-12FFF,1342F-143FF,14647-167FF,16A" +
  "39-16A3F,16A5F-16A5F,16A6A-16A6D,16ABF-16ABF,16ACA-16ACF,16AEE-16AEF,16AF6-16AFF,16B46-1" +
  "6B4F,16B5A-16B5A,16B62-16B62,16B78-16B7C,16B90-16E3F,16E9B-16EFF,16F4B-16F4E,16F88-16F8E" +
  ",16FA0-16FDF,16FE5-16FEF,16FF2-16FFF,187F8-187FF,18CD6-18CFF,18D09-1AFEF,1AFF4-1AFF4,1AF" +
  "FC-1AFFC,1AFFF-1AFFF,1B123-1B14F,1B153-1B163,1B168-1B16F,1B2FC-1BBFF,1BC6B-1BC6F,1BC7D-1" +
  "BC7F,1BC89-1BC8F,1BC9A-1BC9B,1BCA0-1CEFF,1CF2E-1CF2F,1CF47-1CF4F,1CFC4-1CFFF,1D0F6-1D0FF" +
  ",1D127-1D128,1D173-1D17A,1D1EB-1D1FF,1D246-1D2DF,1D2F4-1D2FF,1D357-1D35F,1D379-1D3FF,1D4" +
  "55-1D455,1D49D-1D49D,1D4A0-1D4A1,1D4A3-1D4A4,1D4A7-1D4A8,1D4AD-1D4AD,1D4BA-1D4BA,1D4BC-1" +
  "D4BC,1D4C4-1D4C4,1D506-1D506,1D50B-1D50C,1D515-1D515,1D51D-1D51D,1D53A-1D53A,1D53F-1D53F" +
  ",1D545-1D545,1D547-1D549,1D551-1D551,1D6A6-1D6A7,1D7CC-1D7CD,1DA8C-1DA9A,1DAA0-1DAA0,1DA" +
  "B0-1DEFF,1DF1F-1DFFF,1E007-1E007,1E019-1E01A,1E022-1E022,1E025-1E025,1E02B-1E0FF,1E12D-1" +
  "E12F,1E13E-1E13F,1E14A-1E14D,1E150-1E28F,1E2AF-1E2BF,1E2FA-1E2FE,1E300-1E7DF,1E7E7-1E7E7" +
  ",1E7EC-1E7EC,1E7EF-1E7EF,1E7FF-1E7FF,1E8C5-1E8C6,1E8D7-1E8FF,1E94C-1E94F,1E95A-1E95D,1E9" +
  "60-1EC70,1ECB5-1ED00,1ED3E-1EDFF,1EE04-1EE04,1EE20-1EE20,1EE23-1EE23,1EE25-1EE26,1EE28-1" +
  "EE28,1EE33-1EE33,1EE38-1EE38,1EE3A-1EE3A,1EE3C-1EE41,1EE43-1EE46,1EE48-1EE48,1EE4A-1EE4A" +
  ",1EE4C-1EE4C,1EE50-1EE50,1EE53-1EE53,1EE55-1EE56,1EE58-1EE58,1EE5A-1EE5A,1EE5C-1EE5C,1EE" +
  "5E-1EE5E,1EE60-1EE60,1EE63-1EE63,1EE65-1EE66,1EE6B-1EE6B,1EE73-1EE73,1EE78-1EE78,1EE7D-1" +
  "EE7D,1EE7F-1EE7F,1EE8A-1EE8A,1EE9C-1EEA0,1EEA4-1EEA4,1EEAA-1EEAA,1EEBC-1EEEF,1EEF2-1EFFF" +
  ",1F02C-1F02F,1F094-1F09F,1F0AF-1F0B0,1F0C0-1F0C0,1F0D0-1F0D0,1F0F6-1F0FF,1F1AE-1F1E5,1F2" +
  "03-1F20F,1F23C-1F23F,1F249-1F24F,1F252-1F25F,1F266-1F2FF,1F6D8-1F6DC,1F6ED-1F6EF,1F6FD-1" +
  "F6FF,1F774-1F77F,1F7D9-1F7DF,1F7EC-1F7EF,1F7F1-1F7FF,1F80C-1F80F,1F848-1F84F,1F85A-1F85F" +
  ",1F888-1F88F,1F8AE-1F8AF,1F8B2-1F8FF,1FA54-1FA5F,1FA6E-1FA6F,1FA75-1FA77,1FA7D-1FA7F,1FA" +
  "87-1FA8F,1FAAD-1FAAF,1FABB-1FABF,1FAC6-1FACF,1FADA-1FADF,1FAE8-1FAEF,1FAF7-1FAFF,1FB93-1" +
  "FB93,1FBCB-1FBEF,1FBFA-1FFFF,2A6E0-2A6FF,2B739-2B73F,2B81E-2B81F,2CEA2-2CEAF,2EBE1-2F7FF" +
  ",2FA1E-2FFFF,3134B-E00FF,E01F0-10FFFF";
// Combining marks (general category M in Unicode 14.0): at most MAX_MARK_RUN in a row.
const MARK_RANGES =
  "300-36F,483-489,591-5BD,5BF-5BF,5C1-5C2,5C4-5C5,5C7-5C7,610-61A,64B-65F,670-670,6D6-6DC," +
  "6DF-6E4,6E7-6E8,6EA-6ED,711-711,730-74A,7A6-7B0,7EB-7F3,7FD-7FD,816-819,81B-823,825-827," +
  "829-82D,859-85B,898-89F,8CA-8E1,8E3-903,93A-93C,93E-94F,951-957,962-963,981-983,9BC-9BC," +
  "9BE-9C4,9C7-9C8,9CB-9CD,9D7-9D7,9E2-9E3,9FE-9FE,A01-A03,A3C-A3C,A3E-A42,A47-A48,A4B-A4D," +
  "A51-A51,A70-A71,A75-A75,A81-A83,ABC-ABC,ABE-AC5,AC7-AC9,ACB-ACD,AE2-AE3,AFA-AFF,B01-B03," +
  "B3C-B3C,B3E-B44,B47-B48,B4B-B4D,B55-B57,B62-B63,B82-B82,BBE-BC2,BC6-BC8,BCA-BCD,BD7-BD7," +
  "C00-C04,C3C-C3C,C3E-C44,C46-C48,C4A-C4D,C55-C56,C62-C63,C81-C83,CBC-CBC,CBE-CC4,CC6-CC8," +
  "CCA-CCD,CD5-CD6,CE2-CE3,D00-D03,D3B-D3C,D3E-D44,D46-D48,D4A-D4D,D57-D57,D62-D63,D81-D83," +
  "DCA-DCA,DCF-DD4,DD6-DD6,DD8-DDF,DF2-DF3,E31-E31,E34-E3A,E47-E4E,EB1-EB1,EB4-EBC,EC8-ECD," +
  "F18-F19,F35-F35,F37-F37,F39-F39,F3E-F3F,F71-F84,F86-F87,F8D-F97,F99-FBC,FC6-FC6,102B-103" +
  "E,1056-1059,105E-1060,1062-1064,1067-106D,1071-1074,1082-108D,108F-108F,109A-109D,135D-1" +
  "35F,1712-1715,1732-1734,1752-1753,1772-1773,17B4-17D3,17DD-17DD,180B-180D,180F-180F,1885" +
  "-1886,18A9-18A9,1920-192B,1930-193B,1A17-1A1B,1A55-1A5E,1A60-1A7C,1A7F-1A7F,1AB0-1ACE,1B" +
  "00-1B04,1B34-1B44,1B6B-1B73,1B80-1B82,1BA1-1BAD,1BE6-1BF3,1C24-1C37,1CD0-1CD2,1CD4-1CE8," +
  "1CED-1CED,1CF4-1CF4,1CF7-1CF9,1DC0-1DFF,20D0-20F0,2CEF-2CF1,2D7F-2D7F,2DE0-2DFF,302A-302" +
  "F,3099-309A,A66F-A672,A674-A67D,A69E-A69F,A6F0-A6F1,A802-A802,A806-A806,A80B-A80B,A823-A" +
  "827,A82C-A82C,A880-A881,A8B4-A8C5,A8E0-A8F1,A8FF-A8FF,A926-A92D,A947-A953,A980-A983,A9B3" +
  "-A9C0,A9E5-A9E5,AA29-AA36,AA43-AA43,AA4C-AA4D,AA7B-AA7D,AAB0-AAB0,AAB2-AAB4,AAB7-AAB8,AA" +
  "BE-AABF,AAC1-AAC1,AAEB-AAEF,AAF5-AAF6,ABE3-ABEA,ABEC-ABED,FB1E-FB1E,FE00-FE0F,FE20-FE2F," +
  "101FD-101FD,102E0-102E0,10376-1037A,10A01-10A03,10A05-10A06,10A0C-10A0F,10A38-10A3A,10A3" +
  "F-10A3F,10AE5-10AE6,10D24-10D27,10EAB-10EAC,10F46-10F50,10F82-10F85,11000-11002,11038-11" +
  "046,11070-11070,11073-11074,1107F-11082,110B0-110BA,110C2-110C2,11100-11102,11127-11134," +
  "11145-11146,11173-11173,11180-11182,111B3-111C0,111C9-111CC,111CE-111CF,1122C-11237,1123" +
  "E-1123E,112DF-112EA,11300-11303,1133B-1133C,1133E-11344,11347-11348,1134B-1134D,11357-11" +
  "357,11362-11363,11366-1136C,11370-11374,11435-11446,1145E-1145E,114B0-114C3,115AF-115B5," +
  "115B8-115C0,115DC-115DD,11630-11640,116AB-116B7,1171D-1172B,1182C-1183A,11930-11935,1193" +
  "7-11938,1193B-1193E,11940-11940,11942-11943,119D1-119D7,119DA-119E0,119E4-119E4,11A01-11" +
  "A0A,11A33-11A39,11A3B-11A3E,11A47-11A47,11A51-11A5B,11A8A-11A99,11C2F-11C36,11C38-11C3F," +
  "11C92-11CA7,11CA9-11CB6,11D31-11D36,11D3A-11D3A,11D3C-11D3D,11D3F-11D45,11D47-11D47,11D8" +
  "A-11D8E,11D90-11D91,11D93-11D97,11EF3-11EF6,16AF0-16AF4,16B30-16B36,16F4F-16F4F,16F51-16" +
  "F87,16F8F-16F92,16FE4-16FE4,16FF0-16FF1,1BC9D-1BC9E,1CF00-1CF2D,1CF30-1CF46,1D165-1D169," +
  "1D16D-1D172,1D17B-1D182,1D185-1D18B,1D1AA-1D1AD,1D242-1D244,1DA00-1DA36,1DA3B-1DA6C,1DA7" +
  "5-1DA75,1DA84-1DA84,1DA9B-1DA9F,1DAA1-1DAAF,1E000-1E006,1E008-1E018,1E01B-1E021,1E023-1E" +
  "024,1E026-1E02A,1E130-1E136,1E2AE-1E2AE,1E2EC-1E2EF,1E8D0-1E8D6,1E944-1E94A,E0100-E01EF";
const MAX_MARK_RUN = 4;

/** A regular expression character class over `FIRST-LAST` hexadecimal ranges. */
function rangeClass(ranges) {
  return `[${ranges
    .split(",")
    .map((pair) => pair.split("-").map((hex) => `\\u{${hex}}`).join("-"))
    .join("")}]`;
}
const FORBIDDEN_IN_NAME = new RegExp(rangeClass(NAME_FORBIDDEN_RANGES), "u");
const MARK_RUN_TOO_LONG = new RegExp(`${rangeClass(MARK_RANGES)}{${MAX_MARK_RUN + 1}}`, "u");

/** A verification failure carrying its result code, like cardformat's typed errors. */
export class CardError extends Error {
  constructor(code, detail) {
    super(detail);
    this.code = code;
  }
}

const malformed = (detail) => new CardError("malformed", detail);

// ---------------------------------------------------------------------------------- base45

const B45_VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < BASE45.length; i++) B45_VALUES[BASE45.charCodeAt(i)] = i;

export function base45Decode(text) {
  const values = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? B45_VALUES[code] : -1;
    if (value < 0) throw malformed("base45 text holds a character outside the alphabet");
    values[i] = value;
  }
  const chunks = Math.floor(values.length / 3);
  const rest = values.length % 3;
  if (rest === 1) throw malformed("base45 text has an impossible length");
  const out = new Uint8Array(chunks * 2 + (rest === 2 ? 1 : 0));
  for (let c = 0; c < chunks; c++) {
    const n = values[3 * c] + 45 * values[3 * c + 1] + 2025 * values[3 * c + 2];
    if (n > 0xffff) throw malformed("base45 chunk value out of range");
    out[2 * c] = n >> 8;
    out[2 * c + 1] = n & 0xff;
  }
  if (rest === 2) {
    const n = values[3 * chunks] + 45 * values[3 * chunks + 1];
    if (n > 0xff) throw malformed("base45 final pair value out of range");
    out[out.length - 1] = n;
  }
  return out;
}

// ------------------------------------------------------------------------------------ CBOR
//
// A strict decoder. Besides the value, it reports whether the reference would re-encode the
// item to exactly the same bytes (`canonical`): the reference decodes, re-encodes and compares,
// and refuses any difference, so a non-minimal length or a half-precision float must be
// refused here at the same step.

export class Tag {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/** A CBOR simple value other than false, true, null and undefined. */
export class Simple {
  constructor(value) {
    this.value = value;
  }
}

/** A birth date: days since 1970-01-01 (RFC 8943). */
export class EpochDays {
  constructor(days) {
    this.days = days;
  }
  toISOString() {
    return new Date(this.days * 86400000).toISOString().slice(0, 10);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

class Decoder {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.canonical = true;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw malformed("CBOR ends early");
  }

  // The argument of a head: a number, or a BigInt when it does not fit in 2^53.
  argument(info) {
    if (info < 24) return info;
    let value;
    if (info === 24) {
      this.need(1);
      value = this.bytes[this.pos];
      this.pos += 1;
      if (value < 24) this.canonical = false;
    } else if (info === 25) {
      this.need(2);
      value = this.view.getUint16(this.pos);
      this.pos += 2;
      if (value <= 0xff) this.canonical = false;
    } else if (info === 26) {
      this.need(4);
      value = this.view.getUint32(this.pos);
      this.pos += 4;
      if (value <= 0xffff) this.canonical = false;
    } else if (info === 27) {
      this.need(8);
      const big = this.view.getBigUint64(this.pos);
      this.pos += 8;
      if (big <= 0xffffffffn) this.canonical = false;
      value = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    } else {
      // 28-30 are reserved, 31 is an indefinite length: the reference refuses both.
      throw malformed("indefinite or reserved CBOR length");
    }
    return value;
  }

  length(info) {
    const n = this.argument(info);
    if (typeof n !== "number" || n > this.bytes.length - this.pos) {
      throw malformed("CBOR length beyond the data");
    }
    return n;
  }

  item(depth) {
    if (depth > MAX_DEPTH) throw malformed("CBOR nested too deeply");
    this.need(1);
    const head = this.bytes[this.pos];
    this.pos += 1;
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        return typeof n === "bigint" || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const n = this.length(info);
        const out = this.bytes.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(info);
        let text;
        try {
          text = UTF8.decode(this.bytes.subarray(this.pos, this.pos + n));
        } catch {
          throw malformed("CBOR text is not UTF-8");
        }
        this.pos += n;
        return text;
      }
      case 4: {
        const n = this.length(info);
        const out = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(info);
        const out = new Map();
        const seen = new Set();
        for (let i = 0; i < n; i++) {
          const start = this.pos;
          const key = this.item(depth + 1);
          // Keys compare by their encoding; the format's keys are all small integers.
          const id = Array.from(this.bytes.subarray(start, this.pos)).join(",");
          if (seen.has(id)) throw malformed("CBOR map with a duplicate key");
          seen.add(id);
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = this.argument(info);
        if (tag === TAG_EPOCH_DAYS) {
          const days = this.item(depth + 1);
          if (typeof days !== "number" || !Number.isInteger(days)) {
            throw malformed("a tag 100 date holds an integer");
          }
          if (days < MIN_EPOCH_DAY || days > MAX_EPOCH_DAY) throw malformed("date out of range");
          // The reference re-encodes a date as tag 1004, so outside the claims (which are
          // checked by re-encoding them as the format says) a tag 100 is never canonical.
          this.canonical = false;
          return new EpochDays(days);
        }
        if (typeof tag !== "number" || SEMANTIC_TAGS.has(tag)) this.canonical = false;
        return new Tag(tag, this.item(depth + 1));
      }
      default:
        return this.simple(info);
    }
  }

  simple(info) {
    if (info < 20) return new Simple(info);
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    if (info === 24) {
      this.need(1);
      const value = this.bytes[this.pos];
      this.pos += 1;
      if (value < 32) throw malformed("invalid CBOR simple value");
      return new Simple(value);
    }
    if (info === 25 || info === 26 || info === 27) {
      const size = { 25: 2, 26: 4, 27: 8 }[info];
      this.need(size);
      let value;
      if (size === 2) value = halfToNumber(this.view.getUint16(this.pos));
      else if (size === 4) value = this.view.getFloat32(this.pos);
      else value = this.view.getFloat64(this.pos);
      const bits = size === 2 ? this.view.getUint16(this.pos) : null;
      this.pos += size;
      // The reference writes every float as a double, except NaN and the infinities, which
      // it writes as half floats.
      if (Number.isNaN(value) || !Number.isFinite(value)) {
        if (size !== 2 || (Number.isNaN(value) && bits !== 0x7e00)) this.canonical = false;
      } else if (size !== 8) {
        this.canonical = false;
      }
      return value;
    }
    throw malformed("indefinite or reserved CBOR item");
  }
}

function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Decode one CBOR item; `canonical` says whether the bytes are its one deterministic form. */
export function decodeCbor(bytes) {
  const decoder = new Decoder(bytes);
  const value = decoder.item(0);
  return { value, canonical: decoder.canonical && decoder.pos === bytes.length };
}

// A minimal deterministic encoder for what the format signs and re-checks: unsigned and
// negative integers, byte and text strings, arrays, maps with integer keys, tag 100, null.
class Encoder {
  constructor() {
    this.parts = [];
    this.size = 0;
  }

  push(bytes) {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  head(major, n) {
    const m = major << 5;
    if (typeof n === "bigint" || n > 0xffffffff) {
      const out = new Uint8Array(9);
      out[0] = m | 27;
      new DataView(out.buffer).setBigUint64(1, BigInt(n));
      this.push(out);
    } else if (n < 24) this.push(Uint8Array.of(m | n));
    else if (n <= 0xff) this.push(Uint8Array.of(m | 24, n));
    else if (n <= 0xffff) this.push(Uint8Array.of(m | 25, n >> 8, n & 0xff));
    else this.push(Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  }

  encode(value) {
    if (value === null) this.push(Uint8Array.of(0xf6));
    else if (typeof value === "bigint") {
      if (value >= 0n) this.head(0, value);
      else this.head(1, -1n - value);
    } else if (typeof value === "number") {
      if (value >= 0) this.head(0, value);
      else this.head(1, -1 - value);
    } else if (value instanceof Uint8Array) {
      this.head(2, value.length);
      this.push(value);
    } else if (typeof value === "string") {
      const bytes = UTF8_ENCODER.encode(value);
      this.head(3, bytes.length);
      this.push(bytes);
    } else if (Array.isArray(value)) {
      this.head(4, value.length);
      for (const item of value) this.encode(item);
    } else if (value instanceof Map) {
      this.head(5, value.size);
      for (const [k, v] of value) {
        this.encode(k);
        this.encode(v);
      }
    } else if (value instanceof EpochDays) {
      this.head(6, TAG_EPOCH_DAYS);
      this.encode(value.days);
    } else {
      throw new TypeError("cannot encode this value");
    }
  }

  bytes() {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

export function encodeCbor(value) {
  const encoder = new Encoder();
  encoder.encode(value);
  return encoder.bytes();
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------------------------ the token

const isUint = (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
  (typeof v === "bigint" && v >= 0n);

function decodeText(text) {
  if (typeof text !== "string") throw malformed("a card token is text");
  if (text.length > MAX_TEXT_LENGTH) throw malformed("the text is too long to be a card");
  if (!text.startsWith(PREFIX)) throw malformed('a card token starts with "MC1:"');
  return base45Decode(text.slice(PREFIX.length));
}

function decodeSign1(data) {
  const { value, canonical } = decodeCbor(data);
  if (!(value instanceof Tag) || value.tag !== TAG_SIGN1) {
    throw malformed("not a COSE_Sign1 object (CBOR tag 18)");
  }
  const parts = value.value;
  if (!Array.isArray(parts) || parts.length !== 4) {
    throw malformed("COSE_Sign1 is an array of four items");
  }
  const [protectedBytes, unprotected, payload, signature] = parts;
  if (
    !(protectedBytes instanceof Uint8Array) ||
    !(unprotected instanceof Map) ||
    !(payload instanceof Uint8Array) ||
    !(signature instanceof Uint8Array)
  ) {
    throw malformed("COSE_Sign1 items have the wrong types");
  }
  // Like the reference, which decodes the header with a decoder that ignores trailing bytes:
  // its exact bytes are compared with the profile's later, in readHeader.
  const header = protectedBytes.length ? decodeCbor(protectedBytes).value : new Map();
  if (!(header instanceof Map)) throw malformed("the protected header is not a map");
  if (!canonical) throw malformed("COSE_Sign1 is not in deterministic encoding");
  return { protectedBytes, header, unprotected, payload, signature };
}

// The protected header of a card in its one valid encoding: {1: -8, 4: h'<8-byte kid>'}.
const CARD_HEADER_START = Uint8Array.of(0xa2, 0x01, 0x27, 0x04, 0x48);

function readHeader(message) {
  const keys = [...message.header.keys()];
  if (keys.length !== 2 || !keys.includes(1) || !keys.includes(4)) {
    throw malformed("unexpected protected headers");
  }
  if (message.unprotected.size) throw malformed("the unprotected header must be empty");
  if (message.header.get(1) !== ALG_EDDSA) {
    throw new CardError("bad_signature", "the token is not signed with EdDSA");
  }
  const kid = message.header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== KID_LENGTH) {
    throw malformed("the key id is 8 bytes");
  }
  const profile = new Uint8Array(CARD_HEADER_START.length + KID_LENGTH);
  profile.set(CARD_HEADER_START);
  profile.set(kid, CARD_HEADER_START.length);
  if (!equalBytes(message.protectedBytes, profile)) {
    throw malformed("the protected header is not in deterministic encoding");
  }
  return kid;
}

function validateHolderName(name) {
  const chars = [...name];
  let start = 0;
  let end = chars.length;
  while (start < end && PY_SPACE.has(chars[start])) start++;
  while (end > start && PY_SPACE.has(chars[end - 1])) end--;
  if (start === end) throw malformed("the holder name is empty");
  if (start !== 0 || end !== chars.length) {
    throw malformed("the holder name starts or ends with a space");
  }
  if (UTF8_ENCODER.encode(name).length > MAX_NAME_BYTES) {
    throw malformed("the holder name is too long");
  }
  if (FORBIDDEN_IN_NAME.test(name)) {
    throw malformed("the holder name holds a character a name may not hold");
  }
  if (MARK_RUN_TOO_LONG.test(name)) {
    throw malformed(`the holder name has more than ${MAX_MARK_RUN} combining marks in a row`);
  }
}

export function formatCardNumber(value) {
  let symbols = "";
  for (let i = 0; i < 6; i++) {
    symbols = CARD_NUMBER_ALPHABET[value % 32] + symbols;
    value = Math.floor(value / 32);
  }
  let total = 0;
  let factor = 2;
  for (let i = symbols.length - 1; i >= 0; i--) {
    const addend = factor * CARD_NUMBER_ALPHABET.indexOf(symbols[i]);
    total += Math.floor(addend / 32) + (addend % 32);
    factor = 3 - factor;
  }
  const full = symbols + CARD_NUMBER_ALPHABET[(32 - (total % 32)) % 32];
  return `${full.slice(0, 4)}-${full.slice(4)}`;
}

function parseClaims(payload) {
  const { value: claims } = decodeCbor(payload);
  if (!(claims instanceof Map) || claims.size !== 4) {
    throw malformed("the card's claims are not the v1 claims set");
  }
  for (const key of [CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CARD]) {
    if (!claims.has(key)) throw malformed("the card's claims are not the v1 claims set");
  }
  const issuer = claims.get(CLAIM_ISS);
  const iat = claims.get(CLAIM_IAT);
  const exp = claims.get(CLAIM_EXP);
  const body = claims.get(CLAIM_CARD);
  if (!Array.isArray(body) || body.length !== 4) {
    throw malformed("the card claim is an array of four items");
  }
  const [number, name, birth, index] = body;
  if (!(isUint(iat) && isUint(exp) && isUint(number) && isUint(index))) {
    throw malformed("the card's numbers have the wrong types");
  }
  if (typeof issuer !== "string" || !ISSUER_CODE.test(issuer)) {
    throw malformed("the issuer code is not a UN/LOCODE");
  }
  if (birth !== null && !(birth instanceof EpochDays)) {
    throw malformed("the birth date is not a date");
  }
  if (typeof name !== "string") throw malformed("the holder name is not text");
  validateHolderName(name);
  if (name.normalize("NFC") !== name) throw malformed("the holder name is not in Unicode NFC");
  // BigInt comparisons work for both number and bigint operands.
  if (BigInt(exp) <= BigInt(iat) || BigInt(index) > BigInt(MAX_STATUS_INDEX)) {
    throw malformed("the card's validity or status index is out of range");
  }
  if (typeof number !== "number" || number > CARD_NUMBER_MAX) {
    throw malformed("card number out of range");
  }
  const expected = encodeCbor(
    new Map([
      [CLAIM_ISS, issuer],
      [CLAIM_EXP, exp],
      [CLAIM_IAT, iat],
      [CLAIM_CARD, [number, name, birth, index]],
    ]),
  );
  if (!equalBytes(expected, payload)) {
    throw malformed("the card's claims are not in deterministic encoding");
  }
  if (typeof iat !== "number" || typeof exp !== "number" || exp > MAX_NUMERIC_DATE) {
    throw malformed("the card's dates are out of range");
  }
  return {
    issuer,
    issuedAt: iat,
    expiresAt: exp,
    card: {
      number: formatCardNumber(number),
      holderName: name,
      birthDate: birth === null ? null : birth.toISOString(),
      statusIndex: index,
    },
  };
}

// -------------------------------------------------------------------------- the trust store

export function b64urlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export async function inflate(bytes) {
  // zlib format (RFC 1950), which DecompressionStream calls "deflate".
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const parseTime = (text) => (text ? Date.parse(text) / 1000 : null);

/**
 * Prepare a trust snapshot (the JSON of GET /api/v1/trust-snapshot) for verification: import
 * every key once and inflate every status list once, so verifying a card does neither.
 */
export async function loadSnapshot(snapshot) {
  const keys = new Map();
  const issuers = new Map();
  for (const issuer of snapshot.issuers || []) {
    const lists = new Map();
    for (const list of issuer.status_lists || []) {
      try {
        lists.set(list.id, {
          bits: list.bits,
          data: await inflate(b64urlDecode(list.lst)),
          issuedAt: parseTime(list.issued_at),
          fetchedAt: parseTime(list.fetched_at),
          expiresAt: parseTime(list.expires_at),
        });
      } catch {
        // A damaged list is as good as none: its cards come out status_unknown.
      }
    }
    issuers.set(issuer.code, {
      code: issuer.code,
      names: issuer.name || {},
      statusListSize: issuer.status_list_size,
      lists,
    });
    for (const key of issuer.keys || []) {
      const raw = b64urlDecode(key.public_key);
      let cryptoKey = null;
      try {
        cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, [
          "verify",
        ]);
      } catch {
        continue; // not a valid Ed25519 key: as if it were not published
      }
      keys.set(hex(b64urlDecode(key.kid)), {
        issuer: issuer.code,
        key: cryptoKey,
        state: key.state,
        // As cardformat's trusted_keys(): the retirement time only bounds a retired key.
        retiredAt: key.state === "retired" ? parseTime(key.retired_at) : null,
        notBefore: parseTime(key.not_before),
        notAfter: parseTime(key.not_after),
      });
    }
  }
  return {
    generatedAt: parseTime(snapshot.generated_at),
    generatedAtText: snapshot.generated_at || null,
    // The server's latest fetch of this data (absent from older servers' snapshots).
    fetchedUntil: parseTime(snapshot.trust_fetched_at),
    maxStatusAge: snapshot.max_status_age_seconds,
    keys,
    issuers,
  };
}

/** The issuer's name as the server picks it: the agent's language, the default, English. */
export function issuerName(names, lang, defaultLang, fallback) {
  for (const candidate of [lang, defaultLang, "en"]) {
    if (names && Object.hasOwn(names, candidate)) return names[candidate];
  }
  const first = names ? Object.values(names)[0] : undefined;
  return first === undefined ? fallback : first;
}

// ------------------------------------------------------------------------------- verify

/** Whether 32 bytes encode a point of small order, canonically or not (sign bit ignored). */
function isSmallOrderPoint(encoded) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? encoded[i] & 0x7f : encoded[i]);
  return SMALL_ORDER_Y.has(y % FIELD_PRIME);
}

async function verifyToken(text, trust, now) {
  const message = decodeSign1(decodeText(text));
  const kid = readHeader(message);
  const key = trust.keys.get(hex(kid));
  if (!key) throw new CardError("unknown_issuer", "no trusted issuer has this card's key");
  if (message.signature.length !== SIGNATURE_LENGTH) {
    throw new CardError("bad_signature", "an Ed25519 signature is 64 bytes");
  }
  if (isSmallOrderPoint(message.signature.subarray(0, 32))) {
    throw new CardError("bad_signature", "the signature's R is a point of small order");
  }
  const toBeSigned = encodeCbor(["Signature1", message.protectedBytes, new Uint8Array(0),
    message.payload]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key.key, message.signature,
    toBeSigned);
  if (!ok) throw new CardError("bad_signature", "the signature does not verify");
  const claims = parseClaims(message.payload);
  if (claims.issuer !== key.issuer) {
    throw new CardError("bad_signature", "the card names another issuer than its key");
  }
  if (key.state === "revoked") throw new CardError("key_revoked", "the key is revoked");
  if (key.retiredAt !== null && claims.issuedAt > key.retiredAt) {
    throw new CardError("key_revoked", "the card was signed after its key was retired");
  }
  // The key's own validity (nbf, exp in the issuer metadata) bounds when it may sign.
  if (key.notBefore !== null && claims.issuedAt < key.notBefore) {
    throw new CardError("key_revoked", "the card was signed before its key's validity");
  }
  if (key.notAfter !== null && claims.issuedAt >= key.notAfter) {
    throw new CardError("key_revoked", "the card was signed after its key's validity");
  }
  if (now + CLOCK_SKEW_SECONDS < claims.issuedAt) {
    throw new CardError("not_yet_valid", "the card is not valid yet");
  }
  if (now >= claims.expiresAt) throw new CardError("expired", "the card has expired");
  return claims;
}

/**
 * The card's status from its issuer's last verified status list, exactly as the server's
 * verification service reads it: `status_checked_at` is the list's issued-at time (when the
 * issuer vouched for it), and a list older than the policy's maximum age, or past its own
 * expiry, gives status_unknown rather than a silent "valid".
 */
function readStatus(claims, trust, now) {
  const issuer = trust.issuers.get(claims.issuer);
  const size = issuer && issuer.statusListSize;
  if (!size) return { result: "status_unknown", checkedAt: null };
  const index = claims.card.statusIndex;
  const list = issuer.lists.get(Math.floor(index / size));
  if (!list || list.issuedAt === null) return { result: "status_unknown", checkedAt: null };
  const checkedAt = list.issuedAt;
  const stale =
    now - list.issuedAt > trust.maxStatusAge || (list.expiresAt !== null && now >= list.expiresAt);
  if (stale) return { result: "status_unknown", checkedAt };
  const status = statusAt(list.data, list.bits, index % size);
  if (status === null) return { result: "status_unknown", checkedAt };
  // Value 3 has no meaning in this profile: refuse to guess, as the server does.
  const result = { 0: "valid", 1: "revoked", 2: "suspended" }[status] || "status_unknown";
  return { result, checkedAt };
}

/**
 * Entry `position` of a status list: `bits` per entry, packed least significant bit first
 * (draft-ietf-oauth-status-list); null beyond the end of the list.
 */
export function statusAt(data, bits, position) {
  const offset = position * bits;
  const byte = data[offset >> 3];
  if (byte === undefined) return null;
  return (byte >> (offset & 7)) & ((1 << bits) - 1);
}

// The results that rest on the clock, as verification.TIME_JUDGED on the server: when the
// clock is in doubt they give way to clock_in_doubt.
const TIME_JUDGED = new Set(["valid", "status_unknown", "expired", "not_yet_valid"]);

/**
 * Whether the clock reading `now` (seconds) cannot be trusted to judge time: not a number, or
 * earlier (beyond the usual skew) than `notBefore`, a moment already seen: the trust data's
 * fetch. A device reset to 1970, or set back by hand, would otherwise turn an expired card
 * valid.
 */
export function clockInDoubt(now, notBefore) {
  if (!Number.isFinite(now)) return true;
  return notBefore !== null && notBefore !== undefined && now + CLOCK_SKEW_SECONDS < notBefore;
}

const isoSeconds = (seconds) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

/**
 * Verify a card's text against a prepared trust snapshot, at `now` (seconds since 1970; the
 * device clock by default). Answers with the same keys as POST /api/v1/verify, without
 * `message`, which the page fills in the agent's language.
 *
 * `notBefore` (seconds) is the earliest time the clock may plausibly read: by default the
 * snapshot's own fetch time, as the server does against its trust store; the page adds what
 * it knows besides (when it received the snapshot).
 */
export async function verifyCard(text, trust, options = {}) {
  // One reading of the clock for the whole verdict.
  const now = options.now === undefined ? Date.now() / 1000 : options.now;
  const answer = await judgeCard(text, trust, { ...options, now });
  const notBefore = options.notBefore === undefined ? trust.fetchedUntil : options.notBefore;
  if (TIME_JUDGED.has(answer.result) && clockInDoubt(now, notBefore)) {
    return {
      result: "clock_in_doubt",
      valid: false,
      issuer: null,
      card: null,
      holder: null,
      status_checked_at: null,
    };
  }
  return answer;
}

async function judgeCard(
  text,
  trust,
  { now = Date.now() / 1000, lang = "en", defaultLang = "en" } = {},
) {
  const answer = {
    result: "malformed",
    valid: false,
    issuer: null,
    card: null,
    holder: null,
    status_checked_at: null,
  };
  let claims;
  try {
    claims = await verifyToken(text, trust, now);
  } catch (error) {
    if (!(error instanceof CardError)) throw error;
    answer.result = error.code;
    return answer;
  }
  const status = readStatus(claims, trust, now);
  const issuer = trust.issuers.get(claims.issuer);
  answer.result = status.result;
  answer.valid = status.result === "valid";
  answer.issuer = {
    code: claims.issuer,
    name: issuerName(issuer && issuer.names, lang, defaultLang, claims.issuer),
  };
  answer.card = { number: claims.card.number, expires: isoSeconds(claims.expiresAt) };
  answer.holder = { name: claims.card.holderName, birth_date: claims.card.birthDate };
  answer.status_checked_at = status.checkedAt === null ? null : isoSeconds(status.checkedAt);
  return answer;
}
