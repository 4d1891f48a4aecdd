#!/usr/bin/python3
"""The rsta driving-licence adapter in Python: xbus.v1.Adapter without the TypeScript SDK.

What an agency writing its adapter in another language needs, and nothing more (README, "The adapter's
side of a route"; docs/adapters.md):

- gRPC with mutual TLS: only a connector of this agency (SPIFFE ID spiffe://<td>/agency/rsta/connector/<name>,
  issued by the federation CA, not revoked in the CRL) may call;
- every Fetch carries the broker's signed route for this very request (metadata xbus-route-signature and
  xbus-route-deadline), checked with the broker's Ed25519 keys: a connector's key alone reaches no record;
- a deadline, a served service, a subject, known fields; NOT_FOUND for an unknown subject; only the released
  fields in the record, packed in a google.protobuf.Any.

Debian's python3-grpcio, python3-protobuf (which python3-grpcio depends on) and python3-cryptography; no code
is generated: the message classes come from the descriptor set the repository builds (proto/gen/catalogue.binpb),
and the service is a generic handler over raw bytes, so the route is checked against the bytes as received.

    /usr/bin/python3 adapter.py --ca ca.pem --cert adapter.pem --key adapter-key.pem --crl crl.pem \\
        --broker-key broker-signing.pub.pem --records licences.json [--listen localhost:0] [--trust-domain gov.bt]

--records is a JSON object: citizen ID -> DrivingLicence in protobuf JSON. Prints "listening on PORT" once
serving; SIGTERM or SIGINT stops it.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import descriptor_pb2, json_format, message_factory

AGENCY = "rsta"
SERVICE = "rsta.driving-licence"
RECORD = "agencies.rsta.v1.DrivingLicence"
CATALOGUE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../proto/gen/catalogue.binpb")
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.S)


def load_messages():
    fds = descriptor_pb2.FileDescriptorSet()
    with open(CATALOGUE, "rb") as f:
        fds.ParseFromString(f.read())
    return message_factory.GetMessages(list(fds.file))


class Refused(Exception):
    def __init__(self, code, reason, details):
        super().__init__(details)
        self.code, self.reason, self.details = code, reason, details


# ---- the broker's route (README, "The adapter's side of a route") -------------------------------------------

def signed_bytes(message, sig):
    """The bytes sig's Ed25519 signature covers: the message alone (64 bytes), or the root of its batch.

    A batch signature is signature(64) || index(u16) || size(u16) || audit path (32 bytes each, nearest
    sibling first); the root is RFC 9162's (leaf SHA-256(0x00||m), node SHA-256(0x01||l||r)) and the
    signature covers "xbus-batch/v1\\n" size "\\n" hex(root) "\\n".
    """
    if len(sig) == 64:
        return sig, message
    if len(sig) < 68 or (len(sig) - 68) % 32 != 0 or (len(sig) - 68) // 32 > 16:
        return None
    fn, size = int.from_bytes(sig[64:66], "big"), int.from_bytes(sig[66:68], "big")
    if size < 2 or fn >= size:
        return None
    sn, r = size - 1, hashlib.sha256(b"\x00" + message).digest()
    for at in range(68, len(sig), 32):
        p = sig[at:at + 32]
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return sig[:64], b"xbus-batch/v1\n%d\n%s\n" % (size, r.hex().encode())


def check_route(broker_keys, metadata, req, raw):
    """Refuses unless a trusted broker signed the route of exactly this request, and it is still in time."""
    signature, deadline = metadata.get("xbus-route-signature"), metadata.get("xbus-route-deadline")
    if signature is None or deadline is None:
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, "BAD_ROUTE_SIGNATURE", "no broker route")
    if not re.fullmatch(r"[0-9]{1,15}", deadline) or len(signature) > 800 or len(req.service) > 200:
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, "BAD_ROUTE_SIGNATURE", "malformed broker route")
    message = b"xbus-route/v1\n%s\nxbus.svc.%s\n%s\n%s" % (
        req.exchange_id.encode(), req.service.encode(), deadline.encode(), hashlib.sha256(raw).hexdigest().encode())
    try:
        found = signed_bytes(message, base64.b64decode(signature, validate=True))
    except ValueError:
        found = None
    ok = False
    if found:
        sig, data = found
        for key in broker_keys:
            try:
                key.verify(sig, data)
                ok = True
                break
            except InvalidSignature:
                pass
    if not ok:
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, "BAD_ROUTE_SIGNATURE", "not a route a trusted broker signed")
    if req.service.split(".", 1)[0] != AGENCY:
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, "WRONG_AGENCY", "a route for another agency")
    if int(deadline) <= time.time() * 1000:
        raise Refused(grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the route's deadline has passed")


# ---- the caller: a connector of this agency, not revoked -----------------------------------------------------

class Crl:
    """The federation CRL file, re-read when it changes; a CRL that does not verify, or is older, is refused."""

    def __init__(self, path, cas):
        self.path, self.cas, self.stamp, self.revoked, self.highest = path, cas, None, set(), {}
        self.lock = threading.Lock()
        self.refresh()

    def refresh(self):
        if not self.path:
            return
        stamp = os.stat(self.path).st_mtime_ns
        with self.lock:
            if stamp == self.stamp:
                return
            try:
                with open(self.path, "rb") as f:
                    blocks = [m.group(0) for m in PEM_BLOCK.finditer(f.read()) if m.group(1) == b"X509 CRL"]
                if not blocks:
                    raise ValueError("no CRL in the file")
                revoked, numbers = set(), {}
                for block in blocks:
                    crl = x509.load_pem_x509_crl(block)
                    issuer = next((ca for ca in self.cas if crl.is_signature_valid(ca.public_key())), None)
                    if issuer is None:
                        raise ValueError("a CRL no CA of the trust bundle signed")
                    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
                    key = issuer.subject.rfc4514_string()
                    if number < self.highest.get(key, -1):
                        raise ValueError(f"CRL number {number} is older than the one in force")
                    numbers[key] = number
                    revoked.update(r.serial_number for r in crl)
            except (ValueError, OSError, x509.ExtensionNotFound) as err:
                print(f"adapter: new CRL refused ({err}); the one in force stays", file=sys.stderr, flush=True)
                self.stamp = stamp
                return
            self.stamp, self.revoked = stamp, revoked
            self.highest.update(numbers)

    def is_revoked(self, serial):
        self.refresh()
        return serial in self.revoked


def check_caller(context, crl, trust_domain):
    pems = context.auth_context().get("x509_pem_cert") or []
    if len(pems) != 1:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, "NO_CLIENT_CERT", "a client certificate is required")
    cert = x509.load_pem_x509_certificate(pems[0])
    if crl.is_revoked(cert.serial_number):
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, "CERT_REVOKED", "the client certificate is revoked")
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    ids = [u for u in uris if u.startswith("spiffe://")]
    prefix = f"spiffe://{trust_domain}/agency/{AGENCY}/connector/"
    if len(ids) != 1 or not re.fullmatch(re.escape(prefix) + r"[a-z0-9][a-z0-9-]{0,62}", ids[0]):
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, "WRONG_ROLE", f"only connectors of {AGENCY} may call")


# ---- the service ---------------------------------------------------------------------------------------------

class Adapter(grpc.GenericRpcHandler):
    def __init__(self, msgs, records, broker_keys, crl, trust_domain):
        self.msgs, self.records, self.broker_keys = msgs, records, broker_keys
        self.crl, self.trust_domain = crl, trust_domain
        self.Licence = msgs[RECORD]
        self.field_names = {f.name for f in self.Licence.DESCRIPTOR.fields}

    def service(self, details):
        handler = {"/xbus.v1.Adapter/Describe": self.describe, "/xbus.v1.Adapter/Fetch": self.fetch}
        method = handler.get(details.method)
        # No (de)serializers: requests arrive and answers leave as bytes.
        return grpc.unary_unary_rpc_method_handler(self.guard(method)) if method else None

    def guard(self, method):
        def call(raw, context):
            try:
                check_caller(context, self.crl, self.trust_domain)
                return method(raw, context)
            except Refused as r:
                context.set_trailing_metadata((("xbus-reason", r.reason),))
                context.abort(r.code, f"{r.reason}: {r.details}")
        return call

    def describe(self, _raw, _context):
        sample = next(iter(self.records), "")
        res = self.msgs["xbus.v1.DescribeResponse"](agency=AGENCY)
        res.services.add(service=SERVICE, record_type=RECORD, sample_subject_id=sample)
        return res.SerializeToString()

    def fetch(self, raw, context):
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        try:
            req = self.msgs["xbus.v1.AdapterFetchRequest"].FromString(raw)
        except Exception:  # noqa: BLE001 - any decoding failure is the caller's
            raise Refused(invalid, "INVALID_REQUEST", "the request does not decode") from None
        metadata = {m.key: m.value for m in context.invocation_metadata() if isinstance(m.value, str)}
        check_route(self.broker_keys, metadata, req, raw)
        remaining = context.time_remaining()
        if remaining is None or remaining > 10 ** 8:
            raise Refused(invalid, "INVALID_REQUEST", "deadline: required")
        if req.service != SERVICE:
            raise Refused(invalid, "UNKNOWN_SERVICE", "service: not served here")
        if not 1 <= len(req.subject_id) <= 64:
            raise Refused(invalid, "INVALID_SUBJECT_ID", "subject_id: 1 to 64 characters")
        if not req.fields or not all(f in self.field_names for f in req.fields):
            raise Refused(invalid, "UNKNOWN_FIELD", "fields: unknown field")
        row = self.records.get(req.subject_id)
        if row is None:
            raise Refused(grpc.StatusCode.NOT_FOUND, "SUBJECT_NOT_FOUND", "no record")
        record = json_format.ParseDict(row, self.Licence())
        # Only what policy released leaves the agency.
        for f in self.field_names - set(req.fields):
            record.ClearField(f)
        res = self.msgs["xbus.v1.AdapterFetchResponse"]()
        res.record.type_url = "type.googleapis.com/" + RECORD
        res.record.value = record.SerializeToString()
        return res.SerializeToString()


def main():
    ap = argparse.ArgumentParser(description="the rsta driving-licence adapter (xbus.v1.Adapter) in Python")
    for name in ("ca", "cert", "key", "records"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--crl", help="the federation CRL (PEM), re-read when it changes")
    ap.add_argument("--broker-key", action="append", required=True, help="broker route-signing public key (PEM)")
    ap.add_argument("--listen", default="localhost:0")
    ap.add_argument("--trust-domain", default="gov.bt")
    a = ap.parse_args()

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    ca = read(a.ca)
    cas = [x509.load_pem_x509_certificate(m.group(0)) for m in PEM_BLOCK.finditer(ca) if m.group(1) == b"CERTIFICATE"]
    broker_keys = [load_pem_public_key(read(p)) for p in a.broker_key]
    if not all(isinstance(k, Ed25519PublicKey) for k in broker_keys):
        sys.exit("adapter: --broker-key must be Ed25519 public keys")
    with open(a.records, encoding="utf-8") as f:
        records = json.load(f)
    adapter = Adapter(load_messages(), records, broker_keys, Crl(a.crl, cas), a.trust_domain)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.max_receive_message_length", 65536)])
    server.add_generic_rpc_handlers((adapter,))
    creds = grpc.ssl_server_credentials([(read(a.key), read(a.cert))], root_certificates=ca, require_client_auth=True)
    port = server.add_secure_port(a.listen, creds)
    if port == 0:
        sys.exit(f"adapter: cannot listen on {a.listen}")
    server.start()
    print(f"listening on {port}", flush=True)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    stop.wait()
    server.stop(2).wait()


if __name__ == "__main__":
    main()
