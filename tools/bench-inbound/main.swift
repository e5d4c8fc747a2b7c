// The WireTapeNIO side of the inbound benchmark: connect, count every frame and byte
// until the server closes, print "frames bytes seconds". tools/bench-inbound/run.sh
// runs it next to the Python references on the same server.
import WireTapeCore
import WireTapeNIO

#if canImport(Glibc)
import Glibc
#endif

guard CommandLine.arguments.count == 2 else {
    print("usage: wiretape-bench-inbound URL")
    exit(64)
}
let request = ConnectRequest(url: try WSURL(CommandLine.arguments[1]), config: WSConfig(maxMessageSize: 64 << 20))
let clock = ContinuousClock()
let start = clock.now
let connection = try await NIOConnector().connect(request)
var frames = 0
var bytes = 0
do {
    for try await f in connection.inbound {
        frames += 1
        bytes += f.frame.byteCount
    }
} catch {
    print("bench: the stream ended with \(error)")
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(frames, bytes, seconds)
