import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";

// Latencies here run from sub-millisecond (policy) to the consumer's deadline.
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DAY_MS = 86_400_000;

export type Stage = "identity" | "validation" | "policy" | "routing" | "log_append";

export interface ExchangeLabels {
  service: string;
  consumerAgency: string;
  decision: string;
  status: string;
}

/**
 * The instruments an operator alerts on (README, "Observability"). One set per
 * process wiring, made from that wiring's meter; every label value comes from
 * a closed set or a catalogue name, never from request text.
 */
export interface XbusMetrics {
  exchangeDone(labels: ExchangeLabels, seconds: number): void;
  stage(stage: Stage, seconds: number): void;
  readonly brokerInFlight: InFlight;
  connectorDone(labels: { agency: string; service: string; status: string }, seconds: number): void;
  readonly connectorInFlight: InFlight;
  /**
   * Shows `component`'s reconnect count at 0 from now on, so an alert on its rate has a series
   * before the first reconnect (countNatsReconnects calls it when it starts counting).
   */
  natsConnected(component: string): void;
  natsReconnect(component: string): void;
  /** Reads the exchange log's index lag (entries behind the stream) at each scrape. */
  watchIndexLag(read: () => Promise<number> | number): void;
  /**
   * Reads how far the witnessed checkpoint is behind the log's signed heads at each scrape: entries, and
   * seconds since the log signed the oldest head it does not cover (README, "Witnessing").
   */
  watchWitnessLag(read: () => { entries: number; seconds: number }): void;
  /** Reports days until `notAfter` of a certificate at each scrape (a hook for certificate rotation). */
  watchCertificate(name: string, notAfter: () => Date): void;
  readonly spansExported: Counter;
  readonly spansFailed: Counter;
  readonly spansDropped: Counter;
  /** The exchange log writer's own health (broker/log). */
  readonly log: LogMetrics;
}

/** What an operator alerts on for the exchange log's writer (README, "When the log is under pressure"). */
export interface LogMetrics {
  /** A record that never reached the log: `too_large`, `refused` or `queue_full`. */
  deadLetter(reason: "too_large" | "refused" | "queue_full"): void;
  /** Attempts folded into a summary record instead of being logged one by one. */
  folded(n: number): void;
  /** Bytes of failed exchanges' records waiting to be retried, read at each scrape. */
  watchRetryQueue(read: () => number): void;
  /** The log stream's bytes and max_bytes, read at each scrape (the last value the writer saw). */
  watchStream(read: () => { bytes: number; maxBytes: number } | undefined): void;
}

/**
 * A gauge of work in progress, kept as plain numbers and read at each scrape:
 * an UpDownCounter would hash its labels twice per exchange for the same figure.
 */
export interface InFlight {
  add(n: number, labels?: Attributes): void;
}

function inFlightGauge(meter: Meter, name: string, description: string): InFlight {
  const now = new Map<string, { labels: Attributes | undefined; n: number }>();
  meter.createObservableUpDownCounter(name, { description }).addCallback((r) => {
    for (const { labels, n } of now.values()) r.observe(n, labels);
  });
  return {
    add(n, labels) {
      // Label sets here are one or a few per process (an agency); the key is built only when there are labels.
      const key = labels === undefined ? "" : JSON.stringify(labels);
      const entry = now.get(key);
      if (entry) entry.n += n;
      else now.set(key, { labels, n });
    },
  };
}

export function createMetrics(meter: Meter): XbusMetrics {
  // The unit is in the name because the Prometheus exporter does not append it.
  const seconds = (name: string, description: string): Histogram =>
    meter.createHistogram(`${name}_seconds`, {
      description,
      unit: "s",
      advice: { explicitBucketBoundaries: SECONDS },
    });
  const exchanges = meter.createCounter("xbus.exchanges", {
    description: "Exchanges the broker finished, by service, consumer agency, decision and status",
  });
  const exchangeDuration = seconds("xbus.exchange.duration", "Whole exchange, as the broker saw it");
  const stageDuration = seconds("xbus.exchange.stage.duration", "Each step of the exchange path");
  const policyDuration = seconds("xbus.policy.decision.duration", "Time to reach a policy decision");
  const logAppend = seconds("xbus.log.append.duration", "Time to append an exchange to the log");
  const connectorRequests = meter.createCounter("xbus.connector.requests", {
    description: "Requests a connector answered, by agency, service and status",
  });
  const connectorDuration = seconds("xbus.connector.duration", "Connector request, adapter included");
  const reconnects = meter.createCounter("xbus.nats.reconnects", {
    description: "Reconnections to NATS, by component",
  });

  const lagReaders: (() => Promise<number> | number)[] = [];
  meter
    .createObservableGauge("xbus.log.index.lag", {
      description: "Exchange log entries in the stream not yet in the index",
    })
    .addCallback(async (r) => {
      for (const read of lagReaders) {
        const lag = await Promise.resolve()
          .then(read)
          .catch(() => Number.NaN);
        if (Number.isFinite(lag)) r.observe(lag);
      }
    });
  const witnessLag: (() => { entries: number; seconds: number })[] = [];
  meter
    .createObservableGauge("xbus.witness.lag_entries", {
      description: "Log entries signed but not yet in a checkpoint the witness policy's quorum cosigned",
    })
    .addCallback((r) => {
      for (const read of witnessLag) r.observe(read().entries);
    });
  meter
    .createObservableGauge("xbus.witness.lag_seconds", {
      description:
        "Seconds since the log signed the oldest head no witnessed checkpoint covers yet (0: none)",
      unit: "s",
    })
    .addCallback((r) => {
      for (const read of witnessLag) r.observe(read().seconds);
    });
  const certs = new Map<string, () => Date>();
  meter
    .createObservableGauge("xbus.certificate.days_to_expiry", {
      description: "Days until a certificate this process uses expires",
      unit: "d",
    })
    .addCallback((r) => {
      for (const [name, notAfter] of certs)
        r.observe((notAfter().getTime() - Date.now()) / DAY_MS, { certificate: name });
    });

  // Counters with no labels, or labels known once a connection is named, are shown at 0 from the
  // start: Prometheus has no series to alert on until a counter is first touched. The exchange and
  // connector request counters are not: their label sets (decision, status) are known only when they happen.
  const span = (name: string, description: string): Counter => {
    const c = meter.createCounter(`xbus.telemetry.spans.${name}`, { description });
    c.add(0);
    return c;
  };

  return {
    log: logMetrics(meter),
    exchangeDone(l, s) {
      const attrs: Attributes = {
        service: l.service,
        consumer_agency: l.consumerAgency,
        decision: l.decision,
        status: l.status,
      };
      exchanges.add(1, attrs);
      exchangeDuration.record(s, { service: l.service, decision: l.decision });
    },
    stage(stage, s) {
      stageDuration.record(s, { stage });
      if (stage === "policy") policyDuration.record(s);
      else if (stage === "log_append") logAppend.record(s);
    },
    brokerInFlight: inFlightGauge(meter, "xbus.exchanges.in_flight", "Exchanges the broker is handling now"),
    connectorDone(l, s) {
      connectorRequests.add(1, l);
      connectorDuration.record(s, { agency: l.agency, service: l.service });
    },
    connectorInFlight: inFlightGauge(
      meter,
      "xbus.connector.in_flight",
      "Requests a connector is handling now",
    ),
    natsConnected: (component) => reconnects.add(0, { component }),
    natsReconnect: (component) => reconnects.add(1, { component }),
    watchIndexLag: (read) => void lagReaders.push(read),
    watchWitnessLag: (read) => void witnessLag.push(read),
    watchCertificate: (name, notAfter) => void certs.set(name, notAfter),
    spansExported: span("exported", "Spans the OTLP exporter delivered"),
    spansFailed: span("failed", "Spans the OTLP exporter could not deliver (collector down or refusing)"),
    spansDropped: span("dropped", "Spans dropped before export because a bounded queue or buffer was full"),
  };
}

function logMetrics(meter: Meter): LogMetrics {
  const dead = meter.createCounter("xbus.log.dead_letters", {
    description:
      "Exchange records that can never reach the log (too_large, refused) or found no room to wait (queue_full)",
  });
  for (const reason of ["too_large", "refused", "queue_full"]) dead.add(0, { reason });
  const folded = meter.createCounter("xbus.log.folded", {
    description: "Denied or invalid attempts folded into a summary record instead of one record each",
  });
  folded.add(0);
  const queues: (() => number)[] = [];
  meter
    .createObservableGauge("xbus.log.retry_queue_bytes", {
      description: "Bytes of failed exchanges' records waiting for the log",
    })
    .addCallback((r) => {
      for (const read of queues) r.observe(read());
    });
  const streams: (() => { bytes: number; maxBytes: number } | undefined)[] = [];
  meter
    .createObservableGauge("xbus.log.stream_used_ratio", {
      description: "The log stream's bytes over its max_bytes (alert from 0.8)",
    })
    .addCallback((r) => {
      for (const read of streams) {
        const s = read();
        if (s && s.maxBytes > 0) r.observe(s.bytes / s.maxBytes);
      }
    });
  return {
    deadLetter: (reason) => dead.add(1, { reason }),
    folded: (n) => folded.add(n),
    watchRetryQueue: (read) => void queues.push(read),
    watchStream: (read) => void streams.push(read),
  };
}
