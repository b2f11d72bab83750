// An independent OPC UA client (node-opcua) on a secured endpoint, for interoperability tests.
//
// Usage: node tests/interop/opcua_secure_client.mjs ENDPOINT NODE_ID PKI_DIR
// Connects with Basic256Sha256 SignAndEncrypt (its own certificate made in PKI_DIR), logs in
// with the user name in OPCUA_USER and the password in OPCUA_PASSWORD, reads NODE_ID and
// prints one JSON document on stdout: {"value": ..., "status": "..."} or {"error": "..."}.
import path from "node:path";
import { MessageSecurityMode, OPCUAClient, SecurityPolicy, UserTokenType } from "node-opcua-client";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";

const [endpoint, nodeId, pkiDir] = process.argv.slice(2);
const clientCertificateManager = new OPCUACertificateManager({
  rootFolder: path.join(pkiDir, "pki"), automaticallyAcceptUnknownCertificate: true,
});
const client = OPCUAClient.create({
  endpointMustExist: false,
  securityMode: MessageSecurityMode.SignAndEncrypt,
  securityPolicy: SecurityPolicy.Basic256Sha256,
  clientCertificateManager,
  applicationUri: "urn:factory-twin:interop:node-opcua",
  connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
});
try {
  await client.connect(endpoint);
  const session = await client.createSession({
    type: UserTokenType.UserName, userName: process.env.OPCUA_USER, password: process.env.OPCUA_PASSWORD,
  });
  const dv = await session.read({ nodeId, attributeId: 13 });
  console.log(JSON.stringify({ value: dv.value.value, status: dv.statusCode.name }));
  await session.close();
} catch (err) {
  console.log(JSON.stringify({ error: String(err.message ?? err) }));
} finally {
  await client.disconnect();
}
