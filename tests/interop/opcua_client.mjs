// An independent OPC UA client (node-opcua, not asyncua) for interoperability tests.
//
// Usage: node tests/interop/opcua_client.mjs ENDPOINT NODE_ID[,NODE_ID...] SUBSCRIBE_MS
// Browses the address space below Objects (skipping namespace 0), reads EngineeringUnits
// and EURange of the given variables through their browse paths, subscribes to them for
// SUBSCRIBE_MS and prints one JSON document on stdout.
import {
  AttributeIds,
  BrowseDirection,
  ClientMonitoredItem,
  MessageSecurityMode,
  NodeClass,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  makeBrowsePath,
} from "node-opcua-client";

const [endpoint, nodeList, subscribeMs] = process.argv.slice(2);
const nodeIds = nodeList.split(",");

const client = OPCUAClient.create({
  endpointMustExist: false,
  securityMode: MessageSecurityMode.None,
  securityPolicy: SecurityPolicy.None,
  connectionStrategy: { maxRetry: 5, initialDelay: 200, maxDelay: 1000 },
});
await client.connect(endpoint);
const session = await client.createSession();

const variables = [];
async function browse(nodeId, path, depth) {
  const result = await session.browse({
    nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: "HierarchicalReferences",
    includeSubtypes: true, nodeClassMask: 0, resultMask: 63,
  });
  for (const ref of result.references ?? []) {
    if (ref.nodeId.namespace === 0) continue; // the Server object and standard nodes
    const name = ref.browseName.name;
    if (ref.nodeClass === NodeClass.Variable) {
      variables.push({ path: [...path, name].join("/"), nodeId: ref.nodeId.toString(),
                       typeDefinition: ref.typeDefinition.toString() });
    } else if (ref.nodeClass === NodeClass.Object && depth < 6) {
      await browse(ref.nodeId, [...path, name], depth + 1);
    }
  }
}
await browse("ObjectsFolder", [], 0);

const units = {};
for (const nodeId of nodeIds) {
  const paths = [makeBrowsePath(nodeId, "/0:EngineeringUnits"), makeBrowsePath(nodeId, "/0:EURange")];
  const [eu, range] = await session.translateBrowsePath(paths);
  const [euValue, rangeValue] = await session.read([
    { nodeId: eu.targets[0].targetId, attributeId: AttributeIds.Value },
    { nodeId: range.targets[0].targetId, attributeId: AttributeIds.Value },
  ]);
  const info = euValue.value.value;
  units[nodeId] = { unitId: info.unitId, displayName: info.displayName.text, namespaceUri: info.namespaceUri,
                    low: rangeValue.value.value.low, high: rangeValue.value.value.high };
}

const updates = {};
const subscription = await session.createSubscription2({
  requestedPublishingInterval: 100, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 10,
  maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 1,
});
for (const nodeId of nodeIds) {
  updates[nodeId] = { count: 0, values: [], sourceTimestamps: [] };
  const item = ClientMonitoredItem.create(subscription, { nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 50, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
  item.on("changed", (dv) => {
    const u = updates[nodeId];
    u.count += 1;
    u.values.push(dv.value.value);
    u.sourceTimestamps.push(dv.sourceTimestamp?.toISOString() ?? null);
  });
}
await new Promise((resolve) => setTimeout(resolve, Number(subscribeMs)));
await subscription.terminate();
await session.close();
await client.disconnect();
process.stdout.write(JSON.stringify({ variables, units, updates }) + "\n");
