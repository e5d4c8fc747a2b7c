// Live-path cost of recording: how long the socket side's `yield` of one frame takes with the
// recorder's tee installed vs without, at a paced rate (default 100k frames/s), as p50/p99/p999
// nanoseconds. The producer is a dedicated thread (like a NIO event loop); a task consumes the
// stream (like an adapter); with recording on, a real Recorder writes a real journal.
//
//   wiretape-bench-record [--frames 300000] [--rate 100000] [--size 300] [--journal DIR]
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeRecorder

func monoNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// A connector whose connection's producer the benchmark drives by hand.
final class HandConnector: WSConnector, Sendable {
    let producer = Mutex<InboundStream.Producer?>(nil)
    func connect(_ request: ConnectRequest) async throws -> WSConnection {
        let (stream, producer) = InboundStream.makeStream(
            config: WSConfig(inboundHighWaterBytes: 1 << 30, inboundHighWaterFrames: 1 << 24))
        self.producer.withLock { $0 = producer }
        return WSConnection(
            inbound: stream, sink: NullSink(), lifecycle: LifecycleWatch(LifecycleSnapshot(epoch: 1, state: .connected)),
            info: ConnectionInfo(), activity: ConnectionActivity())
    }
}

struct NullSink: WSSink {
    func send(_ frame: Frame) async throws {}
    func sendPing(_ payload: [UInt8]) async throws {}
    func close(code: WSCloseCode, reason: String) async {}
}

/// Runs the paced producer on its own thread; returns the per-yield costs in nanoseconds.
func produce(_ producer: InboundStream.Producer, frames: Int, rate: Int, frame: Frame) -> [UInt64] {
    final class Job: @unchecked Sendable {  // handed to one thread, read after pthread_join
        let producer: InboundStream.Producer
        let frames: Int, interval: UInt64, frame: Frame
        var costs: [UInt64] = []
        init(_ p: InboundStream.Producer, _ n: Int, _ i: UInt64, _ f: Frame) {
            producer = p; frames = n; interval = i; self.frame = f
        }
    }
    let job = Job(producer, frames, 1_000_000_000 / UInt64(rate), frame)
    var t = pthread_t()
    let arg = Unmanaged.passRetained(job).toOpaque()
    pthread_create(&t, nil, { arg in
        let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
        job.costs.reserveCapacity(job.frames)
        var next = monoNanos()
        for _ in 0..<job.frames {
            while monoNanos() < next {}
            let stamp = ReceiveTimestamp.now()
            let t0 = monoNanos()
            job.producer.yield(InboundFrame(frame: job.frame, epoch: 1, received: stamp))
            let t1 = monoNanos()
            job.costs.append(t1 - t0)
            next += job.interval
        }
        job.producer.finish()
        return nil
    }, arg)
    pthread_join(t, nil)
    return job.costs
}

func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

@main
struct BenchRecord {
    static func main() async throws {
        var frames = 300_000, rate = 100_000, size = 300
        var journal = "/tmp/wiretape-bench-record-\(getpid())"
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let a = args.next() {
            switch a {
            case "--frames": frames = Int(args.next()!)!
            case "--rate": rate = Int(args.next()!)!
            case "--size": size = Int(args.next()!)!
            case "--journal": journal = args.next()!
            default: fatalError("unknown argument \(a)")
            }
        }
        let text = Frame.text(#"{"e":"trade","s":"BTCUSDT","p":"#.padding(size))
        print("live-path cost per frame: \(frames) frames of \(size) bytes at \(rate)/s")
        var results: [(String, [UInt64])] = []
        for recording in [false, true, false, true] {
            let hand = HandConnector()
            var recorder: Recorder? = nil
            let connection: WSConnection
            if recording {
                var options = RecorderOptions()
                options.followsLifecycle = false
                let r = try Recorder(directory: journal + "-\(results.count)", options: options)
                r.start(url: "ws://bench/")
                recorder = r
                connection = try await r.connector(wrapping: hand).connect(ConnectRequest(url: try WSURL("ws://bench/")))
            } else {
                connection = try await hand.connect(ConnectRequest(url: try WSURL("ws://bench/")))
            }
            let consumer = Task {
                var n = 0
                for try await _ in connection.inbound { n += 1 }
                return n
            }
            let producer = hand.producer.withLock { $0! }
            let costs = produce(producer, frames: frames, rate: rate, frame: text).sorted()
            let consumed = try await consumer.value
            var note = "consumed \(consumed)"
            if let recorder {
                await connection.sink.close()
                let stats = await recorder.finish(reason: "bench")
                note += ", recorded \(stats.framesIn), lagged \(stats.lagged)"
            }
            let label = recording ? "recording on " : "recording off"
            print("  \(label): p50 \(percentile(costs, 0.5)) ns  p99 \(percentile(costs, 0.99)) ns  p99.9 \(percentile(costs, 0.999)) ns  (\(note))")
            results.append((label, costs))
        }
        let off = results.filter { $0.0.hasSuffix("off") }.map(\.1).last!
        let on = results.filter { $0.0.hasSuffix("on ") }.map(\.1).last!
        print("  added by recording (second pair): p50 \(Int(percentile(on, 0.5)) - Int(percentile(off, 0.5))) ns, p99 \(Int(percentile(on, 0.99)) - Int(percentile(off, 0.99))) ns")
    }
}

extension String {
    func padding(_ size: Int) -> String {
        let body = self + String(repeating: "1", count: max(0, size - self.utf8.count - 1)) + "}"
        return body
    }
}
