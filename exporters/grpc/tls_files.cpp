// SPDX-License-Identifier: Apache-2.0
#include "exporters/grpc/tls_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace bulkhead::exporters::rpc {

Result<std::string> read_pem(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error{"grpc: cannot read " + what + " " + path + ": " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    std::string pem = text.str();
    if (pem.find("-----BEGIN ") == std::string::npos)
        return Error{"grpc: " + what + " " + path + " is not PEM (no -----BEGIN line)"};
    return pem;
}

namespace {

struct KeyCert {
    std::string key, cert;
};

Result<KeyCert> read_key_cert(const std::string& cert, const std::string& key) {
    auto c = read_pem(cert, "certificate");
    if (!c)
        return Error{c.error()};
    auto k = read_pem(key, "private key");
    if (!k)
        return Error{k.error()};
    return KeyCert{*k, *c};
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> server_tls_credentials(
    const std::string& cert, const std::string& key, const std::string& client_ca) {
    if (cert.empty() || key.empty())
        return Error{"grpc: TLS needs both tls.cert and tls.key"};
    auto kc = read_key_cert(cert, key);
    if (!kc)
        return Error{kc.error()};
    grpc::SslServerCredentialsOptions opts;
    opts.pem_key_cert_pairs.push_back({kc->key, kc->cert});
    opts.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    if (!client_ca.empty()) {
        auto ca = read_pem(client_ca, "client CA");
        if (!ca)
            return Error{ca.error()};
        opts.pem_root_certs = *ca;
        opts.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    return grpc::SslServerCredentials(opts);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> client_tls_credentials(
    const std::string& ca, const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions opts;
    if (!ca.empty()) {
        auto c = read_pem(ca, "CA");
        if (!c)
            return Error{c.error()};
        opts.pem_root_certs = *c;
    }
    if (cert.empty() != key.empty())
        return Error{"grpc: a client certificate needs both --cert and --key"};
    if (!cert.empty()) {
        auto kc = read_key_cert(cert, key);
        if (!kc)
            return Error{kc.error()};
        opts.pem_cert_chain = kc->cert;
        opts.pem_private_key = kc->key;
    }
    return grpc::SslCredentials(opts);
}

}  // namespace bulkhead::exporters::rpc
