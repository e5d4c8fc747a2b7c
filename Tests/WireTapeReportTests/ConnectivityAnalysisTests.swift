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
}
