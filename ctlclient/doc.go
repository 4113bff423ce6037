// Package ctlclient is the client of a running bridge's operator HTTP
// interface (`dupbridge ctl`): /duplication, the table controls, the log
// level and reload.
//
// Guarantees: every call either returns the bridge's typed answer or an
// *Error whose Kind says whether the bridge could not be reached
// (KindUnreachable: connection refused, timeout, TLS failure), refused the
// call (KindRefused: a 4xx/5xx answer, with the bridge's message and, for
// reload, every problem of the file), or the call was malformed before it
// was sent (KindUsage). Scripts map Kinds to exit codes (ExitCode).
//
// How: plain net/http with a bearer token (admin_token) and a JSON body,
// the same guard the bridge applies (server.AdminGuard.AdminOnly); https when the
// address says so.
//
// Why: a script needs to tell "the bridge said no" from "no bridge there"
// without parsing messages.
package ctlclient
