import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeReport

@Suite struct ConnectivityAnalysisTests {
    func edge(_ seq: UInt64, _ epoch: UInt64, _ wall: Int64, _ e: LifecycleEdge) -> EdgeEvent { EdgeEvent(seq: seq, epoch: epoch, wall: wall, edge: e) }

    @Test func anOutageRunsFromLeavingToTheNextConnected() {
        let edges = [
            edge(1, 0, 0, LifecycleEdge(state: .connecting)),
            edge(2, 1, 10, LifecycleEdge(state: .connected)),
            edge(5, 1, 100, LifecycleEdge(state: .reconnecting)),
            edge(6, 1, 101, LifecycleEdge(state: .connecting, error: "connectionRefused", message: "refused")),
            edge(9, 2, 200, LifecycleEdge(state: .connected)),
        ]
        let connects = [
            ConnectMark(seq: 7, epoch: 1, wall: 150, event: ConnectEvent(outcome: .failed, httpStatus: 429)),
            ConnectMark(seq: 8, epoch: 1, wall: 190, event: ConnectEvent(outcome: .connected)),
        ]
        let (outages, bands) = ConnectivityAnalysis.analyse(edges: edges, connects: connects, lastWall: 300)
        #expect(outages.count == 2)
        #expect(outages[1].start == 100 && outages[1].end == 200 && !outages[1].open)
        // The first edge with a cause in the outage names it; the failure's HTTP status joins it.
        #expect(outages[1].cause.summary == "connectionRefused: refused; then HTTP 429 on reconnect")
        #expect(outages[1].attempts == 2)
        #expect(bands.map(\.epoch) == [1, 2] && bands[0].end == 100 && bands[1].end == 300)
    }

    @Test func anOutageStillOpenEndsAtTheLastRecord() {
        let edges = [
            edge(1, 1, 0, LifecycleEdge(state: .connected)),
            edge(2, 1, 50, LifecycleEdge(state: .unrecoverable, error: "handshakeRejected", message: "HTTP 401")),
        ]
        let (outages, _) = ConnectivityAnalysis.analyse(edges: edges, connects: [], lastWall: 80)
        #expect(outages.count == 1 && outages[0].open && outages[0].end == 80 && outages[0].attempts == 0)
    }

    @Test func aWallClockStepInsideAnOutageKeepsItsMonotonicDuration() {
        // The wall clock steps back 60 s while disconnected; 4 s pass on the monotonic clock.
        let edges = [
            EdgeEvent(seq: 1, epoch: 1, wall: 100_000_000_000, mono: 1_000, edge: LifecycleEdge(state: .connected)),
            EdgeEvent(seq: 2, epoch: 1, wall: 110_000_000_000, mono: 10_000_001_000, edge: LifecycleEdge(state: .reconnecting, error: "connectionLost")),
            EdgeEvent(seq: 4, epoch: 2, wall: 50_000_000_000, mono: 14_000_001_000, edge: LifecycleEdge(state: .connected)),
        ]
        let (outages, bands) = ConnectivityAnalysis.analyse(edges: edges, connects: [], lastWall: 110_000_000_000)
        #expect(outages.count == 1)
        #expect(outages[0].durationNanos == 4_000_000_000 && outages[0].durationSeconds == 4)
        #expect(outages[0].end >= outages[0].start)
        #expect(bands.allSatisfy { $0.end >= $0.start })
        // Across a new recording session (its start record is seq 3), monotonic times are not comparable: 0, never negative.
        let (other, _) = ConnectivityAnalysis.analyse(edges: edges, connects: [], sessionStarts: [3], lastWall: 110_000_000_000)
        #expect(other[0].durationNanos == 0)
    }
}
