// SPDX-License-Identifier: Apache-2.0
// TLS credentials from PEM files, for the gRPC server and client. Errors
// name the file and what is wrong with it.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "exporters/result.h"

namespace bulkhead::exporters::rpc {

// A PEM file's text; an error unless it holds "-----BEGIN <what>".
Result<std::string> read_pem(const std::string& path, const std::string& what);

// TLS with `cert`/`key`; mTLS (client certificate required and verified)
// when `client_ca` is set.
Result<std::shared_ptr<grpc::ServerCredentials>> server_tls_credentials(
    const std::string& cert, const std::string& key, const std::string& client_ca);

// TLS trusting `ca`; presents `cert`/`key` when set.
Result<std::shared_ptr<grpc::ChannelCredentials>> client_tls_credentials(
    const std::string& ca, const std::string& cert, const std::string& key);

}  // namespace bulkhead::exporters::rpc
