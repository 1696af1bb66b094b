package io.snakepit.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.snakepit.session.custom.SynchronizedMapSessionStoreFactory;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import org.junit.jupiter.api.Test;

/** Adapters are found through ServiceLoader, by name or by factory class name. */
class SessionStoreFactoryLookupTest {

  @Test
  void findsACustomAdapterRegisteredInMetaInfServices() {
    assertThat(SessionConfig.findFactory("test-treemap")).isInstanceOf(SynchronizedMapSessionStoreFactory.class);
    assertThat(SessionConfig.findFactory(SynchronizedMapSessionStoreFactory.class.getName()))
        .isInstanceOf(SynchronizedMapSessionStoreFactory.class);
  }

  @Test
  void findsTheBuiltInMemoryAdapter() {
    assertThat(SessionConfig.findFactory("memory")).isInstanceOf(MemorySessionStoreFactory.class);
  }

  @Test
  void aMistypedNameListsTheKnownAdapters() {
    assertThatThrownBy(() -> SessionConfig.findFactory("test-tremap"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("\"test-tremap\"")
        .hasMessageContaining("known:")
        .hasMessageContaining("memory")
        .hasMessageContaining("test-treemap")
        .hasMessageContaining("META-INF/services/io.snakepit.session.SessionStoreFactory");
  }
}
