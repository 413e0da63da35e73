/*
 * Interfaces that are not what the sensor is for, named so that analysts see
 * what else happened around a task or service creation. Operation names are
 * given where they tell a story on their own (replication, secure channel,
 * remote activation); the rest are reported by opnum.
 */
#include "iface_internal.h"

#define OP(n, s) [n] = {s, RPC_CLASS_OTHER, NULL, NULL}

static const struct iface_op netlogon_ops[] = {
    OP(2, "NetrLogonSamLogon"),        OP(4, "NetrServerReqChallenge"),
    OP(15, "NetrServerAuthenticate2"), OP(26, "NetrServerAuthenticate3"),
    OP(29, "NetrLogonGetDomainInfo"),  OP(30, "NetrServerPasswordSet2"),
    OP(39, "NetrLogonSamLogonEx"),     OP(45, "NetrLogonSamLogonWithFlags"),
};

static const struct iface_op drsuapi_ops[] = {
    OP(0, "IDL_DRSBind"),
    OP(1, "IDL_DRSUnbind"),
    OP(2, "IDL_DRSReplicaSync"),
    OP(3, "IDL_DRSGetNCChanges"),
    OP(4, "IDL_DRSUpdateRefs"),
    OP(12, "IDL_DRSCrackNames"),
    OP(16, "IDL_DRSDomainControllerInfo"),
    OP(17, "IDL_DRSAddEntry"),
};

/* dssetup (MS-DSSP); 1-10 are the pre-2003 upgrade calls, named as Suricata names them. */
static const struct iface_op dssetup_ops[] = {
    OP(0, "DsRolerGetPrimaryDomainInformation"),
    OP(1, "DsRolerDnsNameToFlatName"),
    OP(2, "DsRolerDcAsDc"),
    OP(3, "DsRolerDcAsReplica"),
    OP(4, "DsRolerDemoteDc"),
    OP(5, "DsRolerGetDcOperationProgress"),
    OP(6, "DsRolerGetDcOperationResults"),
    OP(7, "DsRolerCancel"),
    OP(8, "DsRolerServerSaveStateForUpgrade"),
    OP(9, "DsRolerUpgradeDownlevelServer"),
    OP(10, "DsRolerAbortDownlevelServerUpgrade"),
};

/* lsarpc (MS-LSAD, MS-LSAT): the calls that look up and open policy, on every domain host */
static const struct iface_op lsarpc_ops[] = {
    OP(0, "LsarClose"),
    OP(6, "LsarOpenPolicy"),
    OP(7, "LsarQueryInformationPolicy"),
    OP(14, "LsarLookupNames"),
    OP(15, "LsarLookupSids"),
    OP(44, "LsarOpenPolicy2"),
    OP(45, "LsarGetUserName"),
    OP(46, "LsarQueryInformationPolicy2"),
    OP(57, "LsarLookupSids2"),
    OP(58, "LsarLookupNames2"),
    OP(68, "LsarLookupNames3"),
    OP(76, "LsarLookupSids3"),
    OP(77, "LsarLookupNames4"),
};

/* samr (MS-SAMR): enumeration of users and groups, a step before lateral movement */
static const struct iface_op samr_ops[] = {
    OP(0, "SamrConnect"),
    OP(1, "SamrCloseHandle"),
    OP(5, "SamrLookupDomainInSamServer"),
    OP(6, "SamrEnumerateDomainsInSamServer"),
    OP(7, "SamrOpenDomain"),
    OP(8, "SamrQueryInformationDomain"),
    OP(11, "SamrEnumerateGroupsInDomain"),
    OP(13, "SamrEnumerateUsersInDomain"),
    OP(17, "SamrLookupNamesInDomain"),
    OP(18, "SamrLookupIdsInDomain"),
    OP(19, "SamrOpenGroup"),
    OP(25, "SamrGetMembersInGroup"),
    OP(34, "SamrOpenUser"),
    OP(36, "SamrQueryInformationUser"),
    OP(39, "SamrGetGroupsForUser"),
    OP(57, "SamrConnect2"),
    OP(62, "SamrConnect4"),
    OP(64, "SamrConnect5"),
};

/* srvsvc (MS-SRVS): shares and sessions */
static const struct iface_op srvsvc_ops[] = {
    OP(12, "NetrSessionEnum"),   OP(15, "NetrShareEnum"), OP(16, "NetrShareGetInfo"),
    OP(21, "NetrServerGetInfo"), OP(28, "NetrRemoteTOD"),
};

/* NSPI (MS-NSPI) and Exchange's EMSMDB (MS-OXCRPC) */
static const struct iface_op nspi_ops[] = {
    OP(0, "NspiBind"),
    OP(1, "NspiUnbind"),
    OP(2, "NspiUpdateStat"),
    OP(3, "NspiQueryRows"),
    OP(4, "NspiSeekEntries"),
    OP(5, "NspiGetMatches"),
    OP(6, "NspiResortRestriction"),
    OP(7, "NspiDNToMId"),
    OP(8, "NspiGetPropList"),
    OP(9, "NspiGetProps"),
    OP(10, "NspiCompareMIds"),
    OP(11, "NspiModProps"),
    OP(12, "NspiGetSpecialTable"),
    OP(13, "NspiGetTemplateInfo"),
    OP(14, "NspiModLinkAtt"),
    OP(16, "NspiQueryColumns"),
    OP(17, "NspiGetNamesFromIDs"),
    OP(18, "NspiGetIDsFromNames"),
    OP(19, "NspiResolveNames"),
    OP(20, "NspiResolveNamesW"),
};

static const struct iface_op emsmdb_ops[] = {
    OP(0, "EcDoConnect"),
    OP(1, "EcDoDisconnect"),
    OP(2, "EcDoRpc"),
    OP(3, "EcGetMoreRpc"),
    OP(4, "EcRRegisterPushNotification"),
    OP(5, "EcRUnregisterPushNotification"),
    OP(6, "EcDummyRpc"),
    OP(7, "EcRGetDCName"),
    OP(8, "EcRNetGetDCName"),
    OP(9, "EcDoRpcExt"),
    OP(10, "EcDoConnectEx"),
    OP(11, "EcDoRpcExt2"),
    OP(14, "EcDoAsyncConnectEx"),
};

/* The DCE/RPC management interface every server answers (C706 appendix Q). */
static const struct iface_op mgmt_ops[] = {
    OP(0, "inq_if_ids"),          OP(1, "inq_stats"),
    OP(2, "is_server_listening"), OP(3, "stop_server_listening"),
    OP(4, "inq_princ_name"),
};

static const struct iface_op activator_ops[] = {
    OP(3, "RemoteGetClassObject"),
    OP(4, "RemoteCreateInstance"),
};

static const struct iface_op remunknown_ops[] = {
    OP(3, "RemQueryInterface"),
    OP(4, "RemAddRef"),
    OP(5, "RemRelease"),
    OP(6, "RemQueryInterface2"),
};

static const struct iface_op oxid_ops[] = {
    OP(0, "ResolveOxid"), OP(1, "SimplePing"),   OP(2, "ComplexPing"),
    OP(3, "ServerAlive"), OP(4, "ResolveOxid2"), OP(5, "ServerAlive2"),
};

#define IFACE(u, vmaj, vmin, nm, svc, sp, pp)                                                      \
    {                                                                                              \
        .uuid = u, .ver_major = vmaj, .ver_minor = vmin, .name = nm, .service = svc, .spec = sp,   \
        .pipes = pp                                                                                \
    }
#define WITH_OPS(o) .ops = o, .n_ops = sizeof o / sizeof o[0]

const struct iface_def iface_common[] = {
    {.uuid = UUID_LIT(0x4b324fc8, 0x1670, 0x01d3, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88),
     .ver_major = 3,
     .name = "srvsvc",
     .service = "srvsvc",
     .spec = "MS-SRVS",
     .pipes = "srvsvc",
     WITH_OPS(srvsvc_ops)},
    IFACE(UUID_LIT(0x6bffd098, 0xa112, 0x3610, 0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a), 1,
          0, "wkssvc", "wkssvc", "MS-WKST", "wkssvc"),
    {.uuid = UUID_LIT(0x12345778, 0x1234, 0xabcd, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab),
     .name = "lsarpc",
     .service = "lsarpc",
     .spec = "MS-LSAD",
     .pipes = "lsarpc lsass",
     WITH_OPS(lsarpc_ops)},
    {.uuid = UUID_LIT(0x12345778, 0x1234, 0xabcd, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xac),
     .ver_major = 1,
     .name = "samr",
     .service = "samr",
     .spec = "MS-SAMR",
     .pipes = "samr",
     WITH_OPS(samr_ops)},
    {.uuid = UUID_LIT(0x12345678, 0x1234, 0xabcd, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0xcf, 0xfb),
     .ver_major = 1,
     .name = "netlogon",
     .service = "netlogon",
     .spec = "MS-NRPC",
     .pipes = "netlogon",
     WITH_OPS(netlogon_ops)},
    {.uuid = UUID_LIT(0xe3514235, 0x4b06, 0x11d1, 0xab, 0x04, 0x00, 0xc0, 0x4f, 0xc2, 0xdc, 0xd2),
     .ver_major = 4,
     .name = "drsuapi",
     .service = "drsuapi",
     .spec = "MS-DRSR",
     WITH_OPS(drsuapi_ops),
     .suricata_names = SURI_NAMES_STRIP_IDL},
    {.uuid = UUID_LIT(0xafa8bd80, 0x7d8a, 0x11c9, 0xbe, 0xf4, 0x08, 0x00, 0x2b, 0x10, 0x29, 0x89),
     .ver_major = 1,
     .name = "mgmt",
     .service = "mgmt",
     .spec = "C706",
     WITH_OPS(mgmt_ops)},
    IFACE(UUID_LIT(0x12345678, 0x1234, 0xabcd, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab), 1,
          0, "spoolss", "spoolss", "MS-RPRN", "spoolss"),
    IFACE(UUID_LIT(0x76f03f96, 0xcdfd, 0x44fc, 0xa2, 0x2c, 0x64, 0x95, 0x0a, 0x00, 0x12, 0x09), 1,
          0, "IRemoteWinspool", "IRemoteWinspool", "MS-PAR", NULL),
    {.uuid = UUID_LIT(0x3919286a, 0xb10c, 0x11d0, 0x9b, 0xa8, 0x00, 0xc0, 0x4f, 0xd9, 0x2e, 0xf5),
     .name = "dssetup",
     .service = "dssetup",
     .spec = "MS-DSSP",
     .pipes = "lsarpc",
     WITH_OPS(dssetup_ops)},
    IFACE(UUID_LIT(0x82273fdc, 0xe32a, 0x18c3, 0x3f, 0x78, 0x82, 0x79, 0x29, 0xdc, 0x23, 0xea), 0,
          0, "eventlog", "eventlog", "MS-EVEN", "eventlog"),
    IFACE(UUID_LIT(0xf6beaff7, 0x1e19, 0x4fbb, 0x9f, 0x8f, 0xb8, 0x9e, 0x20, 0x18, 0x33, 0x7c), 1,
          0, "IEventService", "IEventService", "MS-EVEN6", NULL),
    IFACE(UUID_LIT(0xc681d488, 0xd850, 0x11d0, 0x8c, 0x52, 0x00, 0xc0, 0x4f, 0xd9, 0x0f, 0x7e), 1,
          0, "efsrpc", "efsrpc", "MS-EFSR", "efsrpc lsarpc"),
    IFACE(UUID_LIT(0xdf1941c5, 0xfe89, 0x4e79, 0xbf, 0x10, 0x46, 0x36, 0x57, 0xac, 0xf4, 0x4d), 1,
          0, "efsrpc", "efsrpc", "MS-EFSR", "efsrpc"),
    IFACE(UUID_LIT(0x3dde7c30, 0x165d, 0x11d1, 0xab, 0x8f, 0x00, 0x80, 0x5f, 0x14, 0xdb, 0x40), 1,
          0, "BackupKey", "BackupKey", "MS-BKRP", "protected_storage"),
    IFACE(UUID_LIT(0x4fc742e0, 0x4a10, 0x11cf, 0x82, 0x73, 0x00, 0xaa, 0x00, 0x4a, 0xe6, 0x73), 3,
          0, "netdfs", "netdfs", "MS-DFSNM", "netdfs"),
    IFACE(UUID_LIT(0x894de0c0, 0x0d55, 0x11d3, 0xa3, 0x22, 0x00, 0xc0, 0x4f, 0xa3, 0x21, 0xa1), 1,
          0, "InitShutdown", "InitShutdown", "MS-RSP", "InitShutdown"),
    IFACE(UUID_LIT(0xd95afe70, 0xa6d5, 0x4259, 0x82, 0x2e, 0x2c, 0x84, 0xda, 0x1d, 0xdb, 0x0d), 1,
          0, "WindowsShutdown", "WindowsShutdown", "MS-RSP", NULL),
    IFACE(UUID_LIT(0x8d9f4e40, 0xa03d, 0x11ce, 0x8f, 0x69, 0x08, 0x00, 0x3e, 0x30, 0x05, 0x1b), 1,
          0, "pnp", "pnp", "MS-PNPR", "ntsvcs"),
    {.uuid = UUID_LIT(0xf5cc5a18, 0x4264, 0x101a, 0x8c, 0x59, 0x08, 0x00, 0x2b, 0x2f, 0x84, 0x26),
     .ver_major = 56,
     .name = "NSPI",
     .service = "nspi",
     .spec = "MS-NSPI",
     WITH_OPS(nspi_ops)},
    {.uuid = UUID_LIT(0xa4f1db00, 0xca47, 0x1067, 0xb3, 0x1f, 0x00, 0xdd, 0x01, 0x06, 0x62, 0xda),
     .ver_minor = 81,
     .name = "MAPI",
     .service = "exchange_mapi",
     .spec = "MS-OXCRPC",
     WITH_OPS(emsmdb_ops)},
    {.uuid = UUID_LIT(0x000001a0, 0x0000, 0x0000, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46),
     .name = "ISystemActivator",
     .service = "IRemoteSCMActivator",
     .spec = "MS-DCOM",
     WITH_OPS(activator_ops)},
    IFACE(UUID_LIT(0x4d9f4ab8, 0x7d1c, 0x11cf, 0x86, 0x1e, 0x00, 0x20, 0xaf, 0x6e, 0x7c, 0x57), 0,
          0, "IActivation", "IActivation", "MS-DCOM", NULL),
    {.uuid = UUID_LIT(0x99fcfec4, 0x5260, 0x101b, 0xbb, 0xcb, 0x00, 0xaa, 0x00, 0x21, 0x34, 0x7a),
     .name = "IObjectExporter",
     .service = "IObjectExporter",
     .spec = "MS-DCOM",
     WITH_OPS(oxid_ops)},
    {.uuid = UUID_LIT(0x00000131, 0x0000, 0x0000, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46),
     .name = "IRemUnknown",
     .service = "IRemUnknown",
     .spec = "MS-DCOM",
     WITH_OPS(remunknown_ops)},
    {.uuid = UUID_LIT(0x00000143, 0x0000, 0x0000, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46),
     .name = "IRemUnknown2",
     .service = "IRemUnknown2",
     .spec = "MS-DCOM",
     WITH_OPS(remunknown_ops)},
    IFACE(UUID_LIT(0x00020400, 0x0000, 0x0000, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46), 0,
          0, "IDispatch", "IDispatch", "MS-OAUT", NULL),
    IFACE(UUID_LIT(0xf309ad18, 0xd86a, 0x11d0, 0xa0, 0x75, 0x00, 0xc0, 0x4f, 0xb6, 0x88, 0x20), 0,
          0, "IWbemLevel1Login", "IWbemLevel1Login", "MS-WMI", NULL),
    IFACE(UUID_LIT(0x9556dc99, 0x828c, 0x11cf, 0xa3, 0x7e, 0x00, 0xaa, 0x00, 0x32, 0x40, 0xc7), 0,
          0, "IWbemServices", "IWbemServices", "MS-WMI", NULL),
    IFACE(UUID_LIT(0xd4781cd6, 0xe5d3, 0x44df, 0xad, 0x94, 0x93, 0x0e, 0xfe, 0x48, 0xa8, 0x87), 0,
          0, "IWbemLoginClientID", "IWbemLoginClientID", "MS-WMI", NULL),
    IFACE(UUID_LIT(0x423ec01e, 0x2e35, 0x11d2, 0xb6, 0x04, 0x00, 0x10, 0x4b, 0x70, 0x3e, 0xfd), 0,
          0, "IWbemWCOSmartEnum", "IWbemWCOSmartEnum", "MS-WMI", NULL),
    IFACE(UUID_LIT(0x027947e1, 0xd731, 0x11ce, 0xa3, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01), 0,
          0, "IEnumWbemClassObject", "IEnumWbemClassObject", "MS-WMI", NULL),
};
const size_t iface_common_count = sizeof iface_common / sizeof iface_common[0];
