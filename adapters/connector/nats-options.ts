import type { ConnectionOptions } from "@nats-io/transport-node";

/**
 * How a connector stays on the bus. A connector is a long-lived server: it
 * keeps trying to reconnect for as long as it runs (an agency's connector
 * that gives up after a NATS restart would silently take the agency off the
 * bus), a little jittered so a fleet does not reconnect in lockstep, and it
 * notices a dead server within a minute even when no request comes.
 */
export function connectorNatsOptions(agency: string, name = "connector"): Partial<ConnectionOptions> {
  return {
    name: `xbus-connector-${agency}-${name}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    pingInterval: 20_000,
    maxPingOut: 3,
    // Subscriptions are replayed by nats.js after a reconnect; requests that
    // arrive while disconnected are the broker's to time out.
    waitOnFirstConnect: true,
  };
}
