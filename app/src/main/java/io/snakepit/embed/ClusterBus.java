package io.snakepit.embed;

import io.snakepit.app.ClusterSettings;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The clustered event bus's options, the same for a node and for an application that joins the nodes. */
final class ClusterBus {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterBus.class);

  private ClusterBus() {
  }

  /**
   * Binds the bus to {@code address} (cluster-host, resolved once by the caller, who gives Hazelcast the same) and
   * advertises it there; with {@code tls}, mutual TLS: each member presents its certificate and accepts only peers
   * signed by the CA, so a process without such a certificate can neither send on this bus nor receive from it.
   * Blocking when {@code tls} is set: it reads the files.
   */
  static void configure(EventBusOptions bus, String address, int port, ClusterSettings.BusTls tls) {
    bus.setHost(address).setPort(port).setClusterPublicHost(address);
    if (tls != null) {
      io.snakepit.app.tls.PemCredentials pem = tls.read();
      bus.setSsl(true).setKeyCertOptions(pem.keyCert()).setTrustOptions(pem.trust())
          .setClientAuth(ClientAuth.REQUIRED);
      LOG.info("The event bus speaks mutual TLS (certificate serial {})", pem.serial());
    }
  }
}
