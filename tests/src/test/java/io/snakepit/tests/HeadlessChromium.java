package io.snakepit.tests;

import io.snakepit.tests.harness.Poll;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's {@code chromium}, headless, driven over the Chrome DevTools Protocol on one page, for tests of the
 * live cluster page. Started with its own temporary profile; {@link #close()} kills it (and whatever it
 * started) and removes the profile, whatever happened.
 */
final class HeadlessChromium implements AutoCloseable {

  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  private final Path profile;
  private final Process process;
  private final Vertx vertx = Vertx.vertx();
  private WebSocketClient client;
  private WebSocket page;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, Promise<JsonObject>> pending = new ConcurrentHashMap<>();

  private HeadlessChromium(Path profile, Process process) {
    this.profile = profile;
    this.process = process;
  }

  /** The browser's executable, or null when it is not installed. */
  static Path executable() {
    for (String name : List.of("chromium", "chromium-browser")) {
      for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
        Path p = Path.of(dir, name);
        if (Files.isExecutable(p)) {
          return p;
        }
      }
    }
    return null;
  }

  /** Starts the browser and connects to its first page. */
  static HeadlessChromium start(Path executable) throws Exception {
    Path profile = Files.createTempDirectory("snakepit-chromium-");
    Process process = null;
    HeadlessChromium browser = null;
    try {
      process = new ProcessBuilder(executable.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
          "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank")
          .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
      browser = new HeadlessChromium(profile, process);
      browser.connect();
      return browser;
    } catch (Exception | Error e) {
      if (browser != null) {
        browser.close();
      } else {
        if (process != null) {
          process.destroyForcibly();
        }
        delete(profile);
      }
      throw e;
    }
  }

  private void connect() throws Exception {
    // Chromium writes the port it chose, and its browser target's path, once it listens.
    Path portFile = profile.resolve("DevToolsActivePort");
    Poll.until("chromium writes " + portFile, Duration.ofSeconds(60), () -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("chromium exited: " + Files.readString(profile.resolve("chromium.log")));
      }
      return Files.exists(portFile) && Files.readAllLines(portFile).size() >= 2;
    });
    int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
    HttpClient http = HttpClient.newHttpClient();
    String[] target = new String[1];
    Poll.until("chromium lists a page", Duration.ofSeconds(30), () -> {
      JsonArray targets = new JsonArray(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
          + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body());
      for (Object o : targets) {
        JsonObject t = (JsonObject) o;
        if ("page".equals(t.getString("type"))) {
          target[0] = t.getString("webSocketDebuggerUrl");
          return true;
        }
      }
      return false;
    });
    // A screenshot arrives as one base64 message of a few hundred kilobytes: far past the default 64 KiB.
    client = vertx.createWebSocketClient(new io.vertx.core.http.WebSocketClientOptions()
        .setMaxFrameSize(64 * 1024 * 1024).setMaxMessageSize(64 * 1024 * 1024));
    page = client.connect(port, "127.0.0.1", URI.create(target[0]).getPath()).toCompletionStage()
        .toCompletableFuture().get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    page.textMessageHandler(text -> {
      JsonObject m = new JsonObject(text);
      Integer id = m.getInteger("id");
      Promise<JsonObject> p = id == null ? null : pending.remove(id);
      if (p == null) {
        return; // an event of the protocol: none is needed here
      }
      if (m.containsKey("error")) {
        p.fail(m.getJsonObject("error").encode());
      } else {
        p.complete(m.getJsonObject("result", new JsonObject()));
      }
    });
    page.closeHandler(v -> pending.values().forEach(p -> p.tryFail("the page's connection closed")));
  }

  /** Calls a protocol method on the page and waits for its result. */
  JsonObject call(String method, JsonObject params) throws Exception {
    int id = ids.incrementAndGet();
    Promise<JsonObject> p = Promise.promise();
    pending.put(id, p);
    page.writeTextMessage(new JsonObject().put("id", id).put("method", method).put("params", params).encode());
    try {
      return p.future().toCompletionStage().toCompletableFuture().get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } finally {
      pending.remove(id);
    }
  }

  /** Evaluates a JavaScript expression in the page and answers its value (JSON-able). */
  Object evaluate(String expression) throws Exception {
    JsonObject r = call("Runtime.evaluate", new JsonObject().put("expression", expression)
        .put("returnByValue", true));
    if (r.containsKey("exceptionDetails")) {
      throw new IllegalStateException("the page threw: " + r.getJsonObject("exceptionDetails").encode());
    }
    return r.getJsonObject("result").getValue("value");
  }

  /** Makes the page {@code width} x {@code height} CSS pixels, as a phone when {@code mobile}. */
  void viewport(int width, int height, boolean mobile) throws Exception {
    call("Emulation.setDeviceMetricsOverride", new JsonObject().put("width", width).put("height", height)
        .put("deviceScaleFactor", 1).put("mobile", mobile));
    Poll.until("the page is " + width + " px wide", Duration.ofSeconds(10),
        () -> ((Number) evaluate("window.innerWidth")).intValue() == width);
  }

  void navigate(String url) throws Exception {
    call("Page.navigate", new JsonObject().put("url", url));
  }

  /** Writes a PNG of the page as it shows now. */
  void screenshot(Path png) throws Exception {
    JsonObject r = call("Page.captureScreenshot", new JsonObject().put("format", "png"));
    Files.createDirectories(png.getParent());
    Files.write(png, Base64.getDecoder().decode(r.getString("data")));
  }

  @Override
  public void close() {
    try {
      if (client != null) {
        client.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
      }
    } catch (Exception ignored) {
      // the browser goes below whatever the socket did
    }
    // Chromium starts helpers (zygote, renderers, GPU): they go with it.
    // Listed before the browser goes: once it is gone they are reparented and no longer its descendants.
    List<ProcessHandle> helpers = process.descendants().toList();
    helpers.forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // nothing of it outlives the JVM's test either way
    }
    delete(profile);
  }

  private static void delete(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // already gone
    }
  }
}
