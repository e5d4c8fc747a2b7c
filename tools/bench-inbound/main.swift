// The WireTape side of the inbound benchmark: connect, count every frame and byte until
// the server closes, print "frames bytes seconds". tools/bench-inbound/run.sh runs it next
// to the Python references on the same server.
//
//   wiretape-bench-inbound URL                   the bare NIOConnector
//   wiretape-bench-inbound URL --resilient N     ReconnectingConnector over NIOConnector; stops
//                                                after N frames (delivered + counted as lagged)
import WireTapeCore
import WireTapeNIO
import WireTapeResilience

#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count == 2 || (args.count == 4 && args[2] == "--resilient") else {
    print("usage: wiretape-bench-inbound URL [--resilient N]")
    exit(64)
}
let request = ConnectRequest(url: try WSURL(args[1]), config: WSConfig(maxMessageSize: 64 << 20))
let clock = ContinuousClock()
let start = clock.now
var frames = 0
var bytes = 0

if args.count == 4, let expected = Int(args[3]) {
    let connection = ReconnectingConnector(wrapping: NIOConnector()).connect(request)
    for try await f in connection.inbound {
        frames += 1
        bytes += f.frame.byteCount
        if frames + Int(connection.lifecycle.current.totalLagged) >= expected { break }
    }
    let lagged = connection.lifecycle.current.totalLagged
    await connection.shutdown()
    if lagged > 0 { print("bench: \(lagged) frames were dropped by the drop-oldest buffer") }
} else {
    let connection = try await NIOConnector().connect(request)
    do {
        for try await f in connection.inbound {
            frames += 1
            bytes += f.frame.byteCount
        }
    } catch {
        print("bench: the stream ended with \(error)")
    }
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(frames, bytes, seconds)
