"""SDDL text to a self-relative security descriptor, built with impacket's ldaptypes.

Independent of the sensor's C writer (src/iface/sddl.c): the lab client sends what this
builds, and the unit tests hold its output for known SDDL, so the sensor is checked
against bytes it did not make. Covers what the tests need: O:, G:, D: and S: with
their P/AI/AR flags, ACE types A, D, AU, AL, OA, OD, ML, flags, rights as letters or
hex, SIDs as aliases or S-1-...

    /usr/bin/python3 tests/lab/sd_build.py 'D:(A;;GA;;;BA)'   -> hex
"""
import re
import struct
import sys

from impacket.ldap import ldaptypes

ALIASES = {
    'WD': 'S-1-1-0', 'CO': 'S-1-3-0', 'CG': 'S-1-3-1', 'OW': 'S-1-3-4', 'NU': 'S-1-5-2',
    'IU': 'S-1-5-4', 'SU': 'S-1-5-6', 'AN': 'S-1-5-7', 'ED': 'S-1-5-9', 'PS': 'S-1-5-10',
    'AU': 'S-1-5-11', 'RC': 'S-1-5-12', 'SY': 'S-1-5-18', 'LS': 'S-1-5-19', 'NS': 'S-1-5-20',
    'BA': 'S-1-5-32-544', 'BU': 'S-1-5-32-545', 'BG': 'S-1-5-32-546', 'PU': 'S-1-5-32-547',
    'AO': 'S-1-5-32-548', 'SO': 'S-1-5-32-549', 'PO': 'S-1-5-32-550', 'BO': 'S-1-5-32-551',
    'RE': 'S-1-5-32-552', 'RU': 'S-1-5-32-554', 'RD': 'S-1-5-32-555', 'NO': 'S-1-5-32-556',
    'LW': 'S-1-16-4096', 'ME': 'S-1-16-8192', 'HI': 'S-1-16-12288', 'SI': 'S-1-16-16384',
}
RIGHTS = {
    'GA': 0x10000000, 'GR': 0x80000000, 'GW': 0x40000000, 'GX': 0x20000000,
    'RC': 0x20000, 'SD': 0x10000, 'WD': 0x40000, 'WO': 0x80000,
    'RP': 0x10, 'WP': 0x20, 'CC': 0x1, 'DC': 0x2, 'LC': 0x4, 'SW': 0x8, 'LO': 0x80,
    'DT': 0x40, 'CR': 0x100, 'FA': 0x1f01ff, 'FR': 0x120089, 'FW': 0x120116, 'FX': 0x1200a0,
    'KA': 0xf003f, 'KR': 0x20019, 'KW': 0x20006, 'KX': 0x20019,
    'NW': 0x1, 'NR': 0x2, 'NX': 0x4,
}
ACE_FLAGS = {'OI': 0x1, 'CI': 0x2, 'NP': 0x4, 'IO': 0x8, 'ID': 0x10, 'SA': 0x40, 'FA': 0x80}
ACE_TYPES = {
    'A': (0x00, ldaptypes.ACCESS_ALLOWED_ACE), 'D': (0x01, ldaptypes.ACCESS_DENIED_ACE),
    'AU': (0x02, ldaptypes.SYSTEM_AUDIT_ACE), 'OA': (0x05, ldaptypes.ACCESS_ALLOWED_OBJECT_ACE),
    'OD': (0x06, ldaptypes.ACCESS_DENIED_OBJECT_ACE),
    'ML': (0x11, ldaptypes.SYSTEM_MANDATORY_LABEL_ACE),
}


def sid(text):
    s = ldaptypes.LDAP_SID()
    s.fromCanonical(ALIASES.get(text, text))
    return s


def rights(text):
    if text.lower().startswith('0x'):
        return int(text, 16)
    return sum(RIGHTS[text[i:i + 2]] for i in range(0, len(text), 2))


def guid_le(text):
    import uuid
    return uuid.UUID(text).bytes_le


def ace(fields):
    kind, flags, mask, obj, inh, who = fields
    code, cls = ACE_TYPES[kind]
    a = ldaptypes.ACE()
    a['AceType'] = code
    a['AceFlags'] = sum(ACE_FLAGS[flags[i:i + 2]] for i in range(0, len(flags), 2))
    body = cls()
    body['Mask'] = ldaptypes.ACCESS_MASK()
    body['Mask']['Mask'] = rights(mask)
    body['Sid'] = sid(who)
    if kind in ('OA', 'OD'):
        body['Flags'] = (1 if obj else 0) | (2 if inh else 0)
        body['ObjectType'] = guid_le(obj) if obj else b''
        body['InheritedObjectType'] = guid_le(inh) if inh else b''
    a['Ace'] = body
    return a


def acl(text):
    a = ldaptypes.ACL()
    a['AclRevision'] = 4 if re.search(r'\(O[ADU];', text) else 2
    a['Sbz1'] = 0
    a['Sbz2'] = 0
    a.aces = [ace(m.split(';')) for m in re.findall(r'\(([^)]*)\)', text)]
    return a


def build(text):
    """The descriptor's bytes for SDDL text."""
    parts = dict(re.findall(r'([OGDS]):(.*?)(?=[OGDS]:|$)', text))
    sd = ldaptypes.SR_SECURITY_DESCRIPTOR()
    sd['Revision'] = b'\x01'
    sd['Sbz1'] = b'\x00'
    control = 0x8000
    sd['OwnerSid'] = sid(parts['O']) if 'O' in parts else b''
    sd['GroupSid'] = sid(parts['G']) if 'G' in parts else b''
    sd['Dacl'] = sd['Sacl'] = b''
    for tag, present, bits in (('D', 0x4, (0x1000, 0x100, 0x400)), ('S', 0x10, (0x2000, 0x200, 0x800))):
        if tag not in parts:
            continue
        control |= present
        head = parts[tag].split('(')[0]
        if head.startswith('P'):
            control |= bits[0]
        if 'AR' in head:
            control |= bits[1]
        if 'AI' in head:
            control |= bits[2]
        sd['Dacl' if tag == 'D' else 'Sacl'] = acl(parts[tag])
    sd['Control'] = control
    return sd.getData()


if __name__ == '__main__':
    for t in sys.argv[1:]:
        print(build(t).hex())
