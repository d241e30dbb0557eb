/**
 * What each purchase market means, in one table that the box stack and the cluster stack both read:
 * which vCPU quotas it draws on, whether it needs a bought reservation, whether its instances may share
 * a cluster placement group, and what a spot interruption does to them. Logic looks these up instead
 * of branching on market names. Facts only: this module imports nothing of ours but the catalog's types.
 */
import { QUOTAS, type QuotaFamily, type QuotaMarket, type QuotaRef } from './catalog';

/** Every market the config accepts for a box (`market`). */
export const BOX_MARKETS = ['spot', 'on-demand', 'capacity-block', 'capacity-reservation', 'auto'] as const;
export type BoxMarket = (typeof BOX_MARKETS)[number];

/** The markets a cluster's compute nodes can be bought in (`cluster.market`). */
export const CLUSTER_MARKETS = ['spot', 'on-demand', 'capacity-block'] as const;
export type ClusterMarket = (typeof CLUSTER_MARKETS)[number];

export interface MarketFacts {
  /**
   * The vCPU quotas a plan-time guard checks. `auto` reads both and decides; a Capacity Block draws on
   * capacity already bought, and whether it also counts against the on-demand quota is unverified, so no
   * guard claims either way.
   */
  readonly quotas: readonly QuotaMarket[];
  /** Needs `capacityReservationId`. */
  readonly needsReservation: boolean;
  /**
   * May launch into a cluster placement group. Capacity Blocks bring their own placement; and EC2
   * refuses a cluster placement group for spot instances whose interruption behaviour is `stop`, so a
   * cluster's spot nodes are one-time requests that terminate (EC2 User Guide, "Placement groups",
   * rules and limitations, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/placement-groups.html,
   * checked 2026-12-07).
   */
  readonly clusterPlacementGroup: boolean;
  /** EC2 can take an instance back (spot): a box stops and comes back, a cluster node is lost and its job requeued. */
  readonly interruptible: boolean;
}

export const MARKET_FACTS: Readonly<Record<BoxMarket, MarketFacts>> = {
  spot: { quotas: ['spot'], needsReservation: false, clusterPlacementGroup: true, interruptible: true },
  'on-demand': { quotas: ['on-demand'], needsReservation: false, clusterPlacementGroup: true, interruptible: false },
  'capacity-block': { quotas: [], needsReservation: true, clusterPlacementGroup: false, interruptible: false },
  'capacity-reservation': { quotas: ['on-demand'], needsReservation: false, clusterPlacementGroup: true, interruptible: false },
  auto: { quotas: ['spot', 'on-demand'], needsReservation: false, clusterPlacementGroup: true, interruptible: true },
};

/** The quotas a market draws on, of a quota family: what a plan-time quota guard reads. */
export function quotasDrawnOn(market: BoxMarket, family: QuotaFamily): Partial<Record<QuotaMarket, QuotaRef>> {
  return Object.fromEntries(MARKET_FACTS[market].quotas.map((m) => [m, QUOTAS[family][m]]));
}
