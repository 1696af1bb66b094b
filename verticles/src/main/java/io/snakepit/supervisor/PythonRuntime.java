package io.snakepit.supervisor;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@code snakepit_worker} package ships inside this library's jar; this
 * copies it into the node's run directory so workers can import it, whether
 * the library runs from a jar or from a build directory.
 */
final class PythonRuntime {

  static final String RESOURCE_ROOT = "snakepit-python";

  private PythonRuntime() {
  }

  /** Extracts the runtime under {@code target}; returns the directory to put on PYTHONPATH. Blocking. */
  static Path extract(Path target) throws IOException {
    URL marker = PythonRuntime.class.getClassLoader().getResource(RESOURCE_ROOT + "/snakepit_worker/__init__.py");
    if (marker == null) {
      throw new IOException("the snakepit_worker runtime is missing from the classpath (" + RESOURCE_ROOT + ")");
    }
    URI uri;
    try {
      uri = marker.toURI();
    } catch (URISyntaxException e) {
      throw new IOException(e);
    }
    Path out = target.resolve("python");
    if ("jar".equals(uri.getScheme())) {
      try (FileSystem fs = FileSystems.newFileSystem(uri, Map.of())) {
        copyTree(fs.getPath("/" + RESOURCE_ROOT), out);
      }
    } else {
      copyTree(Paths.get(uri).getParent().getParent(), out);
    }
    return out;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path dest = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(dest);
        } else if (p.toString().endsWith(".py")) {
          Files.createDirectories(dest.getParent());
          try (InputStream in = Files.newInputStream(p)) {
            Files.copy(in, dest, StandardCopyOption.REPLACE_EXISTING);
          }
        }
      }
    }
  }
}
