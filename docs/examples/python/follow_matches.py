#!/usr/bin/python3
"""A platform's client of duijie in Python: post through Submit, follow
WatchMatches, and resume the stream after a reconnect without losing or
repeating a match.

Stubs: the message classes come from proto/ with protoc's Python output
(Debian's protobuf-compiler and python3-protobuf); the RPCs are called
through python3-grpcio's generic channel methods, so no gRPC code
generator is needed:

    mkdir -p gen && protoc -Iproto --python_out=gen proto/duijie/v1/*.proto
    PYTHONPATH=gen python3 docs/examples/python/follow_matches.py \\
        --server 127.0.0.1:50051 --key_file ~/.config/duijie/key

What it does, on any server (the demo's regions and pairings help, none is
required): one Submit batch posts an offer and a pledge that match; the
WatchMatches stream shows the history up to CAUGHT_UP and the new match;
the stream is then dropped as a network failure would drop it, a second
batch makes a second match while nobody watches, and a new stream opened
with after_event_id = the last event seen delivers exactly that match.
Prints one line per match seen and exits 0, or 1 with the reason.
"""

import argparse
import datetime
import os
import sys
import uuid

import grpc
from google.protobuf import timestamp_pb2

from duijie.v1 import exchange_pb2 as pb

EXCHANGE = "/duijie.v1.Exchange/"


class Exchange:
    """The few Exchange RPCs this example calls."""

    def __init__(self, channel, key):
        self._metadata = (("authorization", "Bearer " + key),) if key else ()
        self._submit = channel.stream_stream(
            EXCHANGE + "Submit",
            request_serializer=pb.SubmitRequest.SerializeToString,
            response_deserializer=pb.SubmitResponse.FromString)
        self._watch = channel.unary_stream(
            EXCHANGE + "WatchMatches",
            request_serializer=pb.WatchMatchesRequest.SerializeToString,
            response_deserializer=pb.MatchEvent.FromString)

    def submit(self, commands):
        """Sends one batch and returns its results, one per command."""
        batch = pb.SubmitRequest(batch_id=uuid.uuid4().hex, commands=commands)
        responses = list(self._submit(iter([batch]), metadata=self._metadata,
                                      timeout=30))
        if len(responses) != 1 or responses[0].batch_id != batch.batch_id:
            raise RuntimeError("Submit answered %d batches" % len(responses))
        return responses[0].results

    def watch(self, after_event_id, buyer_id):
        """A WatchMatches stream of one buyer's matches, with CAUGHT_UP."""
        return self._watch(
            pb.WatchMatchesRequest(after_event_id=after_event_id,
                                   buyer_id=buyer_id,
                                   progress_events=True),
            metadata=self._metadata)


def in_days(days):
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.datetime.now(datetime.timezone.utc) +
                    datetime.timedelta(days=days))
    return ts


def trade(supplier, buyer, kg):
    """An offer of `kg` kg of lilies from Lanzhou and a pledge of a
    Guangzhou canteen that takes them all, as one batch's commands
    (vegetable.lily is in the demo's product catalogue, which posts must
    name). Lilies at 9 yuan/kg: nothing on the demo's book trades with
    them (an offer left by an earlier run may take the pledge's place: the
    buyer's matches are what this example counts)."""
    offer = pb.Offer(supplier_id=supplier, region_code="620100",
                     product_code="vegetable.lily",
                     grade=pb.GRADE_FIRST, quantity_kg=kg,
                     floor_price_fen_per_kg=900,
                     households=12, expires_at=in_days(3))
    pledge = pb.Pledge(buyer_id=buyer, buyer_city_code="440100",
                       buyer_kind=pb.CANTEEN,
                       product_code="vegetable.lily",
                       quantity_kg=kg, max_price_fen_per_kg=1000,
                       expires_at=in_days(3))
    return [pb.Command(post_offer=pb.PostOfferRequest(
                request_id=uuid.uuid4().hex, offer=offer)),
            pb.Command(post_pledge=pb.PostPledgeRequest(
                request_id=uuid.uuid4().hex, pledge=pledge))]


def check_results(results):
    for result in results:
        if result.WhichOneof("result") == "error":
            raise RuntimeError("command refused: %s (field %s)" %
                               (result.error.message, result.error.field))


def show(event):
    m = event.match
    print("match %d: %d kg of %s from %s to %s at %d fen/kg (event %d)" %
          (m.match_id, m.quantity_kg, m.product_code, m.supplier_id,
           m.buyer_id, m.price_fen_per_kg, event.event_id))


def read_until(stream, stop):
    """Reads `stream`, printing matches, until `stop(event)` is true;
    returns the last event_id seen and the matches seen."""
    last, matches = 0, []
    for event in stream:
        if event.kind == pb.NEW_MATCH:
            show(event)
            matches.append(event.match)
        last = max(last, event.event_id)
        if stop(event):
            break
    return last, matches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--key_file", default="",
                        help="file holding an API key that may post for "
                        "the example's supplier and buyer (an ADMIN key)")
    args = parser.parse_args()
    key = ""
    if args.key_file:
        with open(os.path.expanduser(args.key_file)) as f:
            key = f.read().strip()

    run = uuid.uuid4().hex[:8]
    supplier, buyer = "py-coop-" + run, "py-canteen-" + run
    with grpc.insecure_channel(args.server) as channel:
        exchange = Exchange(channel, key)

        # A stream that sends the history (none yet for this new buyer),
        # says CAUGHT_UP, then the first batch's match live.
        stream = exchange.watch(0, buyer)
        read_until(stream, lambda e: e.kind == pb.CAUGHT_UP)
        check_results(exchange.submit(trade(supplier, buyer, 500)))
        last, first = read_until(stream, lambda e: e.kind == pb.NEW_MATCH)
        # The connection drops: the stream is gone, and a match is made
        # while no one watches.
        stream.cancel()
        check_results(exchange.submit(trade(supplier, buyer, 300)))
        # Resuming after the last event seen delivers the missed match
        # once, then says it is caught up.
        resumed = exchange.watch(last, buyer)
        _, missed = read_until(resumed, lambda e: e.kind == pb.CAUGHT_UP)
        resumed.cancel()

    # Every kg pledged is matched once: 500 + 300, none seen twice.
    seen = [m.match_id for m in first + missed]
    kg = sum(m.quantity_kg for m in first + missed)
    if not first or not missed or len(set(seen)) != len(seen) or kg != 800:
        print("expected 800 kg in matches seen once each, live and after "
              "the reconnect; saw %d kg in matches %s" % (kg, seen),
              file=sys.stderr)
        return 1
    print("resumed after event %d: no match lost or repeated" % last)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (grpc.RpcError, RuntimeError) as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
