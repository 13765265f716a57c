// The Iceberg REST catalog of roadwatch's cluster profile: Apache Iceberg's own REST adapter and servlet
// (iceberg-core's test jar, as in Iceberg's RESTCatalogServer) over a JDBC catalog. Unlike that server it
// binds one host (rest.host) and never logs its properties (they hold the S3 and JDBC secrets).
// Usage: java -cp <classpath> RestCatalog.java <catalog.properties>

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class RestCatalog {
  private static final Logger LOG = LoggerFactory.getLogger(RestCatalog.class);

  private RestCatalog() {}

  public static void main(String[] args) throws Exception {
    Properties file = new Properties();
    try (InputStream in = new FileInputStream(args[0])) {
      file.load(in);
    }
    Map<String, String> props = new HashMap<>();
    file.stringPropertyNames().forEach(name -> props.put(name, file.getProperty(name)));
    String host = props.remove("rest.host");
    int port = Integer.parseInt(props.remove("rest.port"));
    Catalog catalog = CatalogUtil.buildIcebergCatalog("roadwatch", props, new Configuration());
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTCatalogAdapter(catalog))), "/*");
    context.insertHandler(new GzipHandler());
    Server server = new Server(new InetSocketAddress(host, port));
    server.setHandler(context);
    server.setStopAtShutdown(true);
    server.start();
    LOG.info("Iceberg REST catalog on http://{}:{}/ (backend {}, warehouse {})", host, port,
        props.get("uri"), props.get("warehouse"));
    server.join();
  }
}
