// SPDX-License-Identifier: Apache-2.0
#include "syslog/transport.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace bulkhead::exporters {

std::string octet_frame(const std::string& message) {
    return std::to_string(message.size()) + " " + message;
}

namespace {

// What a peer said, safe to log: printable ASCII, others as '?'.
std::string printable(std::string text) {
    for (char& c : text)
        if (c < 32 || c > 126)
            c = '?';
    return text;
}

std::string errno_text(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}

std::string peer_name(const TransportOptions& o) {
    return o.kind + "://" + o.host + ":" + std::to_string(o.port);
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// Resolves and connects within the timeout; a connected fd or an error.
Result<int> connect_to(const TransportOptions& o, int socktype) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o.port);
    if (int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res); rc != 0)
        return Error{"syslog: cannot resolve " + o.host + ": " + gai_strerror(rc)};
    std::string last = "no address";
    int fd = -1;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last = std::strerror(errno);
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = poll(&p, 1, static_cast<int>(o.timeout.count()));
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
                rc = 0;
            else
                errno = rc == 0 ? ETIMEDOUT : soerr ? soerr : errno;
            if (rc != 0)
                rc = -1;
        }
        if (rc == 0) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            set_timeouts(fd, o.timeout);
            freeaddrinfo(res);
            return fd;
        }
        last = std::strerror(errno);
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return Error{"syslog: cannot connect to " + peer_name(o) + ": " + last};
}

bool send_all(int fd, const std::string& data, int* err) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? errno : EPIPE;
            return false;
        }
        off += static_cast<size_t>(n);
    }
    return true;
}

// A syslog receiver never sends application data, so a readable socket with
// nothing to read means the peer closed: reconnect before writing into a
// connection whose bytes would be lost.
bool peer_closed(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// TCP and TLS syslog have no acknowledgement: when a receiver dies, what
// sat unread in its socket buffer is gone although our writes succeeded.
// So each stream connection remembers the frames it wrote in the last
// `window`, and a new connection writes them again before anything else:
// a receiver's crash costs duplicates (byte-identical frames), never loss.
class ReplayWindow {
public:
    explicit ReplayWindow(std::chrono::milliseconds window) : window_(window) {}
    void wrote(const std::string& frame) {
        if (window_.count() == 0)
            return;
        auto now = std::chrono::steady_clock::now();
        frames_.emplace_back(now, frame);
        bytes_ += frame.size();
        while (!frames_.empty() && (now - frames_.front().first > window_ || frames_.size() > kMaxFrames ||
                                    bytes_ > kMaxBytes)) {
            bytes_ -= frames_.front().second.size();
            frames_.pop_front();
        }
    }
    // The frames to write again on a new connection, oldest first.
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> take() {
        bytes_ = 0;
        return std::exchange(frames_, {});
    }

private:
    static constexpr size_t kMaxFrames = 10000;
    static constexpr size_t kMaxBytes = 4 << 20;
    std::chrono::milliseconds window_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> frames_;
    size_t bytes_ = 0;
};

// UDP, TCP and the unix socket: a plain socket, opened on first use and
// after an error. Streams carry octet-counted frames; datagrams one message.
class SocketTransport : public Transport {
public:
    SocketTransport(TransportOptions o, bool stream) : o_(std::move(o)), stream_(stream), replay_(o_.replay) {}
    ~SocketTransport() override { close(); }
    Result<void> send(const std::string& message) override {
        if (fd_ >= 0 && stream_ && peer_closed(fd_))
            close();
        // Blocking with SO_SNDTIMEO: a full receiver delays, then fails.
        int err = 0;
        if (fd_ < 0) {
            auto fd = open();
            if (!fd)
                return Error{fd.error()};
            fd_ = *fd;
            for (auto& [when, frame] : replay_.take()) {
                if (!send_all(fd_, frame, &err))
                    return Error{errno_text("syslog: send (replay) to " + where(), err)};
                replay_.wrote(frame);
            }
        }
        std::string frame = stream_ ? octet_frame(message) : message;
        if (!send_all(fd_, frame, &err))
            return Error{errno_text("syslog: send to " + where(), err)};
        if (stream_)
            replay_.wrote(frame);
        return {};
    }
    void close() override {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

protected:
    virtual Result<int> open() { return connect_to(o_, stream_ ? SOCK_STREAM : SOCK_DGRAM); }
    virtual std::string where() const { return peer_name(o_); }
    TransportOptions o_;

private:
    bool stream_;
    ReplayWindow replay_;
    int fd_ = -1;
};

class UnixTransport : public SocketTransport {
public:
    explicit UnixTransport(TransportOptions o) : SocketTransport(std::move(o), /* stream = */ false) {}

protected:
    Result<int> open() override {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (o_.socket_path.size() >= sizeof addr.sun_path)
            return Error{"syslog: socket path too long: " + o_.socket_path};
        std::memcpy(addr.sun_path, o_.socket_path.c_str(), o_.socket_path.size());
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return Error{errno_text("syslog: socket", errno)};
        set_timeouts(fd, o_.timeout);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            int err = errno;
            ::close(fd);
            return Error{errno_text("syslog: cannot connect to " + o_.socket_path, err)};
        }
        return fd;
    }
    std::string where() const override { return o_.socket_path; }
};

std::string ssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += (out.empty() ? "" : "; ") + std::string(buf);
    }
    return out.empty() ? "unknown TLS error" : out;
}

class TlsTransport : public Transport {
public:
    static constexpr int kRefusalWaitMs = 200;

    explicit TlsTransport(TransportOptions o) : o_(std::move(o)), replay_(o_.replay) {}
    ~TlsTransport() override {
        close();
        if (ctx_)
            SSL_CTX_free(ctx_);
    }

    Result<void> check() override {
        if (ctx_)
            return {};
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
            return Error{"syslog: TLS: " + ssl_errors()};
        // RFC 9662 moves syslog to forward-secret suites: TLS 1.2 at least,
        // OpenSSL's defaults (1.3 preferred) above that.
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        const auto& t = o_.tls;
        bool ok = true;
        std::string what;
        if (!t.ca_file.empty() || !t.ca_path.empty()) {
            ok = SSL_CTX_load_verify_locations(ctx, t.ca_file.empty() ? nullptr : t.ca_file.c_str(),
                                               t.ca_path.empty() ? nullptr : t.ca_path.c_str()) == 1;
            what = "cannot load CA " + (t.ca_file.empty() ? t.ca_path : t.ca_file);
        } else {
            ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
            what = "cannot load the system CA paths";
        }
        if (ok && !t.cert_file.empty()) {
            ok = SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) == 1;
            what = "cannot load client certificate " + t.cert_file;
            if (ok) {
                ok = SSL_CTX_use_PrivateKey_file(ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) == 1 &&
                     SSL_CTX_check_private_key(ctx) == 1;
                what = "cannot load client key " + t.key_file + " (or it does not match the certificate)";
            }
        }
        if (!ok) {
            std::string err = ssl_errors();
            SSL_CTX_free(ctx);
            return Error{"syslog: TLS: " + what + ": " + err};
        }
        SSL_CTX_set_verify(ctx, t.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
        ctx_ = ctx;
        return {};
    }

    Result<void> send(const std::string& message) override {
        if (ssl_ && closed_by_peer())
            close();
        if (!ssl_) {
            if (auto r = connect(); !r)
                return r;
            for (auto& [when, frame] : replay_.take()) {
                if (auto w = write(frame); !w)
                    return w;
                replay_.wrote(frame);
            }
        }
        std::string frame = octet_frame(message);
        if (auto w = write(frame); !w)
            return w;
        replay_.wrote(frame);
        return {};
    }

    void close() override {
        if (ssl_) {
            SSL_shutdown(ssl_);  // close_notify first, as RFC 5425 §4.4 asks
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

private:
    Result<void> write(const std::string& frame) {
        size_t off = 0;
        while (off < frame.size()) {
            size_t written = 0;
            if (SSL_write_ex(ssl_, frame.data() + off, frame.size() - off, &written) != 1)
                return Error{"syslog: TLS write to " + peer_name(o_) + ": " + ssl_errors()};
            off += written;
        }
        return {};
    }

    Result<void> connect() {
        if (auto r = check(); !r)
            return r;
        auto fd = connect_to(o_, SOCK_STREAM);
        if (!fd)
            return Error{fd.error()};
        fd_ = *fd;
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        std::string name = o_.tls.server_name.empty() ? o_.host : o_.tls.server_name;
        in6_addr ip{};
        bool is_ip = inet_pton(AF_INET, name.c_str(), &ip) == 1 || inet_pton(AF_INET6, name.c_str(), &ip) == 1;
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl_, name.c_str());
            SSL_set1_host(ssl_, name.c_str());
        }
        if (SSL_connect(ssl_) != 1) {
            long vr = SSL_get_verify_result(ssl_);
            std::string why = vr != X509_V_OK ? std::string("certificate verification failed: ") +
                                                    X509_verify_cert_error_string(vr)
                                              : ssl_errors();
            close();
            return Error{"syslog: TLS handshake with " + peer_name(o_) + " (" + name + "): " + why};
        }
        // In TLS 1.3 the server checks our certificate after our side of the
        // handshake is done: give its refusal a moment to arrive, or the
        // first messages would go into a connection it is closing.
        if (SSL_version(ssl_) == TLS1_3_VERSION && closed_by_peer(kRefusalWaitMs)) {
            close();
            return Error{"syslog: TLS: " + peer_name(o_) +
                         " closed the connection after the handshake (does it want a client "
                         "certificate, or not ours?)"};
        }
        return {};
    }

    // Reads what the server sent (TLS 1.3 session tickets, close_notify)
    // without blocking: true when the connection is gone.
    bool closed_by_peer(int wait_ms = 0) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, wait_ms) != 1)
            return false;
        if (p.revents & (POLLHUP | POLLERR))
            return true;
        int flags = fcntl(fd_, F_GETFL);
        fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
        bool gone = false;
        char buf[256];
        for (;;) {
            int n = SSL_read(ssl_, buf, sizeof buf);
            if (n > 0)
                continue;  // a syslog server has nothing to say; ignore it
            int e = SSL_get_error(ssl_, n);
            gone = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
            break;
        }
        ERR_clear_error();
        fcntl(fd_, F_SETFL, flags);
        return gone;
    }

    TransportOptions o_;
    ReplayWindow replay_;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
};

// RELP, rsyslog's Reliable Event Logging Protocol (relp.html of its
// documentation): frames "TXNR SP COMMAND SP DATALEN [SP DATA] LF", and the
// receiver answers each with "TXNR rsp LEN 200 OK" once it has taken the
// message. send() returns only then, so a receiver's crash loses nothing:
// a message it did not acknowledge stays in the spool and goes again (a
// crash between taking and answering can repeat that one message).
class RelpTransport : public Transport {
public:
    explicit RelpTransport(TransportOptions o) : o_(std::move(o)) {}
    ~RelpTransport() override { close(); }

    Result<void> send(const std::string& message) override {
        if (fd_ < 0)
            if (auto r = open(); !r)
                return r;
        auto r = command("syslog", message);
        if (!r)
            drop();
        return r;
    }
    void close() override {
        if (fd_ >= 0)
            (void)command("close", "");  // its answer carries no status
        drop();
    }

private:
    static constexpr size_t kMaxAnswer = 64 * 1024;

    struct Frame {
        unsigned long txnr = 0;
        std::string command, data;
    };

    Result<void> open() {
        auto fd = connect_to(o_, SOCK_STREAM);
        if (!fd)
            return Error{fd.error()};
        fd_ = *fd;
        txnr_ = 0;
        in_.clear();
        auto r = command("open", "relp_version=0\nrelp_software=bulkhead\ncommands=syslog");
        if (!r)
            drop();
        return r;
    }
    void drop() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

    // One command and its answer, which must be "rsp" with status 200.
    Result<void> command(const std::string& cmd, const std::string& data) {
        txnr_ = txnr_ % 999'999'999 + 1;
        std::string frame = std::to_string(txnr_) + " " + cmd + " " + std::to_string(data.size()) +
                            (data.empty() ? "" : " " + data) + "\n";
        int err = 0;
        if (!send_all(fd_, frame, &err))
            return Error{errno_text("syslog: RELP send to " + peer_name(o_), err)};
        auto f = read_frame();
        if (!f)
            return Error{f.error()};
        if (f->command == "serverclose")
            return Error{"syslog: RELP: " + peer_name(o_) + " closed the session"};
        if (f->command != "rsp" || f->txnr != txnr_)
            return Error{"syslog: RELP: " + peer_name(o_) + " answered '" + f->command + "' for transaction " +
                         std::to_string(f->txnr) + ", expected 'rsp' for " + std::to_string(txnr_)};
        if (cmd != "close" && f->data.compare(0, 3, "200") != 0)
            return Error{"syslog: RELP: " + peer_name(o_) + " refused " + cmd + ": " +
                         printable(f->data.substr(0, std::min<size_t>(f->data.find('\n'), 200)))};
        return {};
    }

    // Reads one frame (bounded: a peer cannot make us buffer without end).
    Result<Frame> read_frame() {
        for (;;) {
            if (auto f = parse(); !f)
                return Error{f.error()};
            else if (f->has_value())
                return std::move(**f);
            char buf[4096];
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n == 0)
                return Error{"syslog: RELP: " + peer_name(o_) + " closed the connection"};
            if (n < 0)
                return Error{errno_text("syslog: RELP: no answer from " + peer_name(o_), errno)};
            in_.append(buf, static_cast<size_t>(n));
        }
    }
    // A whole frame from in_, nullopt when more bytes are needed.
    Result<std::optional<Frame>> parse() {
        auto bad = [&](const char* why) {
            return Error{"syslog: RELP: malformed answer from " + peer_name(o_) + ": " + why};
        };
        size_t sp1 = in_.find(' ');
        size_t sp2 = sp1 == std::string::npos ? sp1 : in_.find(' ', sp1 + 1);
        size_t len_end = sp2 == std::string::npos ? sp2 : in_.find_first_not_of("0123456789", sp2 + 1);
        if (len_end == std::string::npos)
            return in_.size() > 64 ? Result<std::optional<Frame>>(bad("no header in 64 bytes"))
                                   : Result<std::optional<Frame>>(std::optional<Frame>());
        Frame f;
        std::string txnr = in_.substr(0, sp1), len = in_.substr(sp2 + 1, len_end - sp2 - 1);
        if (txnr.empty() || txnr.size() > 9 || txnr.find_first_not_of("0123456789") != std::string::npos ||
            len.empty() || len.size() > 9)
            return bad("bad transaction number or length");
        f.txnr = std::stoul(txnr);
        f.command = in_.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t datalen = std::stoul(len);
        if (datalen > kMaxAnswer)
            return bad("answer longer than 64 KiB");
        size_t data_at = len_end + (datalen ? 1 : 0);
        if (in_.size() < data_at + datalen + 1)
            return std::optional<Frame>();
        if ((datalen && in_[len_end] != ' ') || in_[data_at + datalen] != '\n')
            return bad("no separator or trailer");
        f.data = in_.substr(data_at, datalen);
        in_.erase(0, data_at + datalen + 1);
        return std::optional<Frame>(std::move(f));
    }

    TransportOptions o_;
    int fd_ = -1;
    unsigned long txnr_ = 0;
    std::string in_;
};

}  // namespace

std::unique_ptr<Transport> make_transport(const TransportOptions& options) {
    if (options.kind == "udp")
        return std::make_unique<SocketTransport>(options, /* stream = */ false);
    if (options.kind == "tcp")
        return std::make_unique<SocketTransport>(options, /* stream = */ true);
    if (options.kind == "tls")
        return std::make_unique<TlsTransport>(options);
    if (options.kind == "relp")
        return std::make_unique<RelpTransport>(options);
    return std::make_unique<UnixTransport>(options);
}

}  // namespace bulkhead::exporters
