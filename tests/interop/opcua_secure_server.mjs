// An independent OPC UA server (node-opcua) with security, for interoperability tests.
//
// Usage: node tests/interop/opcua_secure_server.mjs PORT PKI_DIR [TRUSTED_CLIENT_CERT]
// Serves on opc.tcp://127.0.0.1:PORT only Basic256Sha256 SignAndEncrypt, refuses anonymous
// users and accepts one user: OPCUA_USER with the password OPCUA_PASSWORD (environment).
// Its PKI (own certificate, trust list) is in PKI_DIR/pki. Unknown client certificates are
// NOT accepted automatically: TRUSTED_CLIENT_CERT (DER or PEM), if given, is put in the
// server's trust list (PKI_DIR/pki/trusted/certs) before it starts.
//
// Namespace 1 holds variables that change every 100 ms, all with the same source timestamp
// per tick: ns=1;s=counter (Int32, +1), ns=1;s=temperature (Double), ns=1;s=running
// (Boolean, toggles), ns=1;s=source_ms (Double: its own source timestamp, in ms since 1970).
// When ready it prints one JSON line: {"endpoint": ..., "certificate": PEM file, "node_ids": [...]},
// and runs until killed.
import fs from "node:fs";
import path from "node:path";
import opcuaServer from "node-opcua-server"; // CommonJS: only its own classes come through
// The protocol types, as node-opcua-client re-exports them (node-opcua-server does not).
import { DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, Variant } from "node-opcua-client";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";

const { OPCUAServer } = opcuaServer;

const [port, pkiDir, trustedClientCert] = process.argv.slice(2);
const user = process.env.OPCUA_USER;
const password = process.env.OPCUA_PASSWORD;
if (!port || !pkiDir || !user || !password) {
  console.error("usage: OPCUA_USER=... OPCUA_PASSWORD=... node opcua_secure_server.mjs PORT PKI_DIR [CLIENT_CERT]");
  process.exit(2);
}

const serverCertificateManager = new OPCUACertificateManager({
  rootFolder: path.join(pkiDir, "pki"), automaticallyAcceptUnknownCertificate: false,
});
await serverCertificateManager.initialize();
if (trustedClientCert) {
  let cert = fs.readFileSync(trustedClientCert);
  const text = cert.toString("latin1");
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    const b64 = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0];
    cert = Buffer.from(b64.replace(/\s+/g, ""), "base64");
  }
  await serverCertificateManager.trustCertificate(cert);
}

const server = new OPCUAServer({
  port: Number(port),
  hostname: "127.0.0.1",
  serverCertificateManager,
  securityPolicies: [SecurityPolicy.Basic256Sha256],
  securityModes: [MessageSecurityMode.SignAndEncrypt],
  allowAnonymous: false,
  userManager: { isValidUser: (name, pass) => name === user && pass === password },
  serverInfo: { applicationUri: "urn:factory-twin:interop:node-opcua-server", productUri: "factory-twin-interop" },
  buildInfo: { productName: "factory-twin interop server" },
});
await server.initialize();

const namespace = server.engine.addressSpace.getOwnNamespace();
const folder = namespace.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: "Machine" });
const specs = [
  ["counter", DataType.Int32, (n) => n],
  ["temperature", DataType.Double, (n) => 20 + (n % 50) / 10],
  ["running", DataType.Boolean, (n) => n % 2 === 0],
  ["source_ms", DataType.Double, (_n, t) => t.getTime()],
];
const variables = specs.map(([name, dataType]) => namespace.addVariable({
  componentOf: folder, browseName: name, nodeId: `s=${name}`, dataType,
}));
let n = 0;
function tick() {
  n += 1;
  const t = new Date();
  specs.forEach(([, dataType, valueOf], i) => {
    variables[i].setValueFromSource(new Variant({ dataType, value: valueOf(n, t) }), StatusCodes.Good, t);
  });
}
tick();
setInterval(tick, 100);

await server.start();
const stop = async () => {
  await server.shutdown(0);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
console.log(JSON.stringify({
  endpoint: `opc.tcp://127.0.0.1:${port}`,
  certificate: server.certificateFile,
  node_ids: variables.map((v) => v.nodeId.toString()),
}));
