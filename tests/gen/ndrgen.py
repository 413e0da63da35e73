"""A small NDR / NDR64 encoder for the generator's stubs, in either byte order.

Only what the task-scheduler and service-control requests need: integers,
alignment, [unique]/[ref] pointers, conformant varying strings, context
handles. Top-level [unique] pointers are followed immediately by their
pointee; embedded ones are written by the caller after the structure.
"""

import struct


class Ndr:
    def __init__(self, le=True, ndr64=False):
        self.e = "<" if le else ">"
        self.ndr64 = ndr64
        self.buf = bytearray()
        self.next_ref = 0x00020000

    # -- primitives
    def align(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def u8(self, v):
        self.buf += struct.pack("B", v)

    def u16(self, v):
        self.align(2)
        self.buf += struct.pack(self.e + "H", v)

    def u32(self, v):
        self.align(4)
        self.buf += struct.pack(self.e + "I", v & 0xFFFFFFFF)

    def u64(self, v):
        self.align(8)
        self.buf += struct.pack(self.e + "Q", v)

    def count(self, v):
        """A conformance/variance count or array size: 4 bytes, 8 in NDR64."""
        if self.ndr64:
            self.u64(v)
        else:
            self.u32(v)

    def referent(self, present=True):
        """A pointer's referent id (0 = NULL); 8 bytes in NDR64."""
        if not present:
            ref = 0
        else:
            ref = self.next_ref
            self.next_ref += 4
        if self.ndr64:
            self.u64(ref)
        else:
            self.u32(ref)
        return ref

    def raw(self, b):
        self.buf += b

    def handle(self, h):
        """A 20-byte context handle."""
        assert len(h) == 20
        self.align(4)
        self.buf += h

    # -- strings
    def cvs(self, s, wide=True):
        """Conformant varying string with its terminating NUL."""
        if wide:
            data = (s + "\0").encode("utf-16-le")
            if self.e == ">":
                data = b"".join(data[i + 1:i + 2] + data[i:i + 1] for i in range(0, len(data), 2))
            n = len(data) // 2
        else:
            data = (s + "\0").encode("latin-1")
            n = len(data)
        self.count(n)
        self.count(0)
        self.count(n)
        self.raw(data)

    def unique_str(self, s, wide=True):
        """A top-level [unique] string pointer and its pointee (NULL when s is None)."""
        self.referent(s is not None)
        if s is not None:
            self.cvs(s, wide)

    def ref_str(self, s, wide=True):
        """A top-level [ref] string: no referent id on the wire."""
        self.cvs(s, wide)

    def bytes(self):
        return bytes(self.buf)


# ------------------------------------------------ winreg (MS-RRP 3.1.5)

def _rrp(n, s):
    """An RRP_UNICODE_STRING standing alone: Length and MaximumLength in bytes (with the
    NUL), a [unique] buffer pointer, then the conformant varying characters."""
    n.align(8 if n.ndr64 else 4)
    size = 2 * (len(s) + 1) if s is not None else 0
    n.u16(size)
    n.u16(size)
    n.referent(s is not None)
    if s is not None:
        n.cvs(s)


def reg_open_root(access=0x02000000, **kw):
    """OpenLocalMachine and the other root opens (0-4, 27, 32, 33)."""
    n = Ndr(**kw)
    n.referent(True)
    n.u16(0)
    n.u32(access)
    return n.bytes()


def reg_open_key(h, subkey, options=0, access=0x20006, **kw):
    n = Ndr(**kw)
    n.handle(h)
    _rrp(n, subkey)
    n.u32(options)
    n.u32(access)
    return n.bytes()


def reg_create_key(h, subkey, options=0, access=0x20006, **kw):
    n = Ndr(**kw)
    n.handle(h)
    _rrp(n, subkey)
    _rrp(n, None)           # lpClass
    n.u32(options)
    n.u32(access)
    n.referent(False)       # lpSecurityAttributes
    n.referent(True)        # lpdwDisposition
    n.u32(0)
    return n.bytes()


def reg_create_key_response(h, disposition=1, status=0, **kw):
    n = Ndr(**kw)
    n.handle(h)
    n.referent(True)
    n.u32(disposition)      # REG_CREATED_NEW_KEY 1, REG_OPENED_EXISTING_KEY 2
    n.u32(status)
    return n.bytes()


def reg_set_value(h, name, vtype, data, **kw):
    """BaseRegSetValue: data is the value's bytes as the registry keeps them."""
    n = Ndr(**kw)
    n.handle(h)
    _rrp(n, name)
    n.u32(vtype)
    n.count(len(data))
    n.raw(data)
    n.u32(len(data))
    return n.bytes()


def reg_value_name(h, name, **kw):
    """BaseRegDeleteValue, and BaseRegQueryValue's start."""
    n = Ndr(**kw)
    n.handle(h)
    _rrp(n, name)
    return n.bytes()


def reg_save_key(h, path, flags=None, **kw):
    """BaseRegSaveKey, or BaseRegSaveKeyEx with flags."""
    n = Ndr(**kw)
    n.handle(h)
    _rrp(n, path)
    n.referent(False)       # pSecurityAttributes
    if flags is not None:
        n.u32(flags)
    return n.bytes()


def reg_query_value_response(vtype, data, status=0, **kw):
    n = Ndr(**kw)
    n.referent(True)
    n.u32(vtype)
    n.referent(True)
    n.count(len(data))
    n.count(0)
    n.count(len(data))
    n.raw(data)
    n.referent(True)
    n.u32(len(data))
    n.referent(True)
    n.u32(len(data))
    n.u32(status)
    return n.bytes()


# ------------------------------------------------ ITaskSchedulerService (MS-TSCH)

def sch_register_task(path, xml, flags=0x2, sddl=None, logon_type=0, creds=(), **kw):
    n = Ndr(**kw)
    n.unique_str(path)
    n.ref_str(xml)
    n.u32(flags)
    n.unique_str(sddl)
    n.u32(logon_type)
    n.u32(len(creds))
    n.referent(bool(creds))
    if creds:
        n.count(len(creds))
        for _ in creds:            # TASK_USER_CRED: userId, password, flags
            n.referent(True)
            n.referent(True)
            n.u32(0)
        for user, password in creds:
            n.cvs(user)
            n.cvs(password)
    return n.bytes()


def sch_register_task_response(actual_path, hresult=0, **kw):
    n = Ndr(**kw)
    n.unique_str(actual_path)
    n.referent(False)  # pErrorInfo
    n.u32(hresult)
    return n.bytes()


def sch_run(path, args=(), flags=0, session=0, user=None, **kw):
    n = Ndr(**kw)
    n.ref_str(path)
    n.u32(len(args))
    n.referent(bool(args))
    if args:
        n.count(len(args))
        for _ in args:
            n.referent(True)
        for a in args:
            n.cvs(a)
    n.u32(flags)
    n.u32(session)
    n.unique_str(user)
    return n.bytes()


def sch_run_response(hresult=0, **kw):
    n = Ndr(**kw)
    n.raw(bytes(range(16)))  # pGuid
    n.u32(hresult)
    return n.bytes()


def sch_delete(path, flags=0, **kw):
    n = Ndr(**kw)
    n.ref_str(path)
    n.u32(flags)
    return n.bytes()


def hresult_only(hresult=0, **kw):
    n = Ndr(**kw)
    n.u32(hresult)
    return n.bytes()


# ------------------------------------------------ ATSvc

def netr_job_add(server, command, job_time=0, days_of_month=0, days_of_week=0, flags=0, **kw):
    n = Ndr(**kw)
    n.unique_str(server)
    # AT_INFO: JobTime is DWORD_PTR (8 bytes in NDR64)
    if n.ndr64:
        n.u64(job_time)
    else:
        n.u32(job_time)
    n.u32(days_of_month)
    n.u8(days_of_week)
    n.u8(flags)
    n.referent(True)
    n.cvs(command)
    return n.bytes()


# ------------------------------------------------ svcctl (MS-SCMR)

def handle(tag):
    return b"\0\0\0\0" + bytes([tag]) * 16


def open_scmanager_w(machine, database=None, access=0xF003F, **kw):
    n = Ndr(**kw)
    n.unique_str(machine)
    n.unique_str(database)
    n.u32(access)
    return n.bytes()


def handle_response(h, status=0, **kw):
    n = Ndr(**kw)
    n.handle(h)
    n.u32(status)
    return n.bytes()


def create_service(hscm, name, binary, display=None, access=0xF01FF, svc_type=0x10,
                   start_type=3, error_control=0, start_name=None, wide=True, **kw):
    """RCreateServiceW (wide) or RCreateServiceA (narrow); also 44/45."""
    n = Ndr(**kw)
    n.handle(hscm)
    n.ref_str(name, wide)
    n.unique_str(display, wide)
    n.u32(access)
    n.u32(svc_type)
    n.u32(start_type)
    n.u32(error_control)
    n.ref_str(binary, wide)
    n.unique_str(None)      # lpLoadOrderGroup
    n.referent(False)       # lpdwTagId
    n.referent(False)       # lpDependencies
    n.u32(0)                # dwDependSize
    n.unique_str(start_name, wide)
    n.referent(False)       # lpPassword
    n.u32(0)                # dwPwSize
    return n.bytes()


def create_service_response(h, status=0, **kw):
    n = Ndr(**kw)
    n.referent(False)       # lpdwTagId
    n.handle(h)
    n.u32(status)
    return n.bytes()


def start_service(h, argv=(), wide=True, **kw):
    n = Ndr(**kw)
    n.handle(h)
    n.u32(len(argv))
    n.referent(bool(argv))
    if argv:
        n.count(len(argv))
        for _ in argv:
            n.referent(True)
        for a in argv:
            n.cvs(a, wide)
    return n.bytes()


def set_service_object_security(h, sd, info=4, **kw):
    """RSetServiceObjectSecurity: handle, SECURITY_INFORMATION, [size_is] bytes, cbBufSize."""
    n = Ndr(**kw)
    n.handle(h)
    n.u32(info)
    n.count(len(sd))
    n.raw(sd)
    n.u32(len(sd))
    return n.bytes()


def query_service_object_security_response(sd, status=0, **kw):
    """RQueryServiceObjectSecurity's answer: [size_is] bytes, pcbBytesNeeded, status."""
    n = Ndr(**kw)
    n.count(len(sd))
    n.raw(sd)
    n.u32(len(sd))
    n.u32(status)
    return n.bytes()


def sch_set_security(path, sddl, flags=0, **kw):
    n = Ndr(**kw)
    n.ref_str(path)
    n.ref_str(sddl)
    n.u32(flags)
    return n.bytes()


def reg_set_key_security(h, sd, info=4, **kw):
    """BaseRegSetKeySecurity: handle, SECURITY_INFORMATION, RPC_SECURITY_DESCRIPTOR."""
    n = Ndr(**kw)
    n.handle(h)
    n.u32(info)
    n.align(8 if n.ndr64 else 4)
    n.referent(True)
    n.u32(len(sd))
    n.u32(len(sd))
    n.count(len(sd))
    n.count(0)
    n.count(len(sd))
    n.raw(sd)
    return n.bytes()


def handle_only(h, **kw):
    n = Ndr(**kw)
    n.handle(h)
    return n.bytes()


def status_only(status=0, **kw):
    n = Ndr(**kw)
    n.u32(status)
    return n.bytes()


def close_response(status=0, **kw):
    n = Ndr(**kw)
    n.handle(b"\0" * 20)
    n.u32(status)
    return n.bytes()


# ------------------------------------------------ endpoint mapper (C706 appendix O)

NDR_SYNTAX = ("8a885d04-1ceb-11c9-9fe8-08002b104860", 2)
NDR64_SYNTAX = ("71710533-beba-4937-8319-b5dbef9ccc36", 1)


def _uuid_le(u):
    import uuid as uuidlib
    return uuidlib.UUID(u).bytes_le


def tower(iface, ver_major, ver_minor=0, port=None, ip="0.0.0.0", pipe=None, host=None,
          syntax=NDR_SYNTAX, order=None):
    """Tower octets (always little-endian): interface, transfer syntax, RPC protocol, then a
    TCP port and IP address, or a named pipe and NetBIOS host. order: floor indexes to
    write them in another order (the spec lets floors after the first three vary)."""
    floors = [
        (b"\x0d" + _uuid_le(iface) + struct.pack("<H", ver_major), struct.pack("<H", ver_minor)),
        (b"\x0d" + _uuid_le(syntax[0]) + struct.pack("<H", syntax[1]), struct.pack("<H", 0)),
        (b"\x0b", struct.pack("<H", 0)),
    ]
    if pipe is not None:
        floors.append((b"\x0f", pipe.encode() + b"\0"))
        floors.append((b"\x11", (host or "").encode() + b"\0"))
    else:
        floors.append((b"\x07", struct.pack(">H", port or 0)))
        floors.append((b"\x09", bytes(int(x) for x in ip.split("."))))
    if order:
        floors = [floors[i] for i in order]
    out = struct.pack("<H", len(floors))
    for lhs, rhs in floors:
        out += struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs
    return out


def _twr(n, octets):
    """A twr_t: conformance, tower_length, the octets."""
    n.count(len(octets))
    n.u32(len(octets))
    n.raw(octets)


def ept_map_request(query, max_towers=4, **kw):
    n = Ndr(**kw)
    n.referent(True)          # object: the nil UUID
    n.align(4)
    n.raw(bytes(16))
    n.referent(True)          # map_tower
    _twr(n, query)
    n.handle(bytes(20))
    n.u32(max_towers)
    return n.bytes()


def ept_map_response(towers, status=0, max_towers=4, **kw):
    n = Ndr(**kw)
    n.handle(bytes(20))
    n.u32(len(towers))
    n.count(max_towers)
    n.count(0)
    n.count(len(towers))
    for _ in towers:
        n.referent(True)
    for t in towers:
        _twr(n, t)
    n.u32(status)
    return n.bytes()
