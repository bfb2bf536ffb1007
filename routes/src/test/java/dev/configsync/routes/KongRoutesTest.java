package dev.configsync.routes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Kong-like subset: reading services and routes, refusing what is outside it. */
class KongRoutesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static KongRoutes table(String json) throws Exception {
    JsonNode config = JSON.readTree(json.replace('\'', '"'));
    return KongRoutes.from("0123456789abcdef0123456789abcdef", config);
  }

  @Test
  void readsServicesFromAUrlOrFromSeparateFields() throws Exception {
    KongRoutes t =
        table(
            "{'services':[{'name':'a','url':'https://api.example.com/v1','read_timeout':2500},"
                + "{'name':'b','host':'10.0.0.7','port':8080},"
                + "{'name':'c','protocol':'https','host':'::1','path':'/p'}]}");
    assertThat(t.services())
        .containsExactly(
            new KongRoutes.Service(
                "a", "https", "api.example.com", 443, "/v1", Duration.ofMillis(2500)),
            new KongRoutes.Service("b", "http", "10.0.0.7", 8080, "", Duration.ofSeconds(60)),
            new KongRoutes.Service("c", "https", "::1", 443, "/p", Duration.ofSeconds(60)));
    assertThat(t.services().get(2).origin()).isEqualTo("https://[::1]:443");
    assertThat(t.routes()).isEmpty();
  }

  @Test
  void readsNestedAndTopLevelRoutesReferringToServicesByNameOrId() throws Exception {
    KongRoutes t =
        table(
            "{'services':[{'name':'a','id':'11111111-aaaa','url':'http://a',"
                + "'routes':[{'name':'nested','paths':['/n']}]},{'name':'b','url':'http://b'}],"
                + "'routes':[{'name':'by-name','service':'b','paths':['/x']},"
                + "{'name':'by-object','service':{'name':'a'},'paths':['/y']},"
                + "{'id':'r-id','service':{'id':'11111111-aaaa'},'paths':['/z'],'hosts':null},"
                + "{'service':'b','methods':['get']}]}");
    assertThat(t.routes())
        .extracting(r -> r.name() + "->" + r.service().name())
        .containsExactly("nested->a", "by-name->b", "by-object->a", "r-id->a", "b/route-5->b");
    assertThat(t.routes().get(4).methods()).containsExactly("GET");
  }

  @Test
  void refusesWhatItCannotServeWithAMessageNamingTheEntry() {
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'}],"
            + "'routes':[{'name':'r','service':'ghost','paths':['/']}]}",
        "route 'r' names service 'ghost', which the configuration does not define");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'}],'routes':[{'name':'r','paths':['/']}]}",
        "route 'r' names no service");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s'},{'name':'s','url':'http://t'}]}",
        "service 's' is defined twice");
    assertRefused("{'services':[{'url':'http://s'}]}", "service #1 has no name");
    assertRefused(
        "{'services':[{'name':'s','url':'grpc://s'}]}",
        "service 's': protocol 'grpc' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','host':'t'}]}",
        "service 's' has both 'url' and 'host'");
    assertRefused("{'services':[{'name':'s','port':80}]}", "service 's' needs a 'url' or a 'host'");
    assertRefused(
        "{'services':[{'name':'s','host':'h','port':70000}]}",
        "service 's': port must be from 1 to 65535, got: 70000");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','paths':['~/x$']}]}]}",
        "route 'r': regular expression path '~/x$' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','paths':['x']}]}]}",
        "route 'r': path must start with '/'");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r','hosts':['a:80']}]}]}",
        "route 'r': host 'a:80' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':[{'name':'r'}]}]}",
        "route 'r' matches nothing");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'headers':{'x':['1']}}]}]}",
        "route 'r': matching on 'headers' is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'preserve_host':true}]}]}",
        "route 'r': preserve_host is not supported");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'protocols':['grpc']}]}]}",
        "route 'r': protocols [grpc] has neither http nor https");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/']},{'name':'r','paths':['/x']}]}]}",
        "route 'r' is defined twice");
    assertRefused("{'services':{}}", "the configuration: 'services' must be an array");
    assertRefused(
        "{'services':[{'name':'s','url':'http://s','routes':"
            + "[{'name':'r','paths':['/'],'strip_path':'yes'}]}]}",
        "route 'r': strip_path must be true or false");
  }

  @Test
  void hostsMatchExactlyOrByAWildcardThatStandsForAtLeastOneCharacter() {
    List<String> hosts = List.of("shop.example.com", "*.example.org", "internal.*");
    assertThat(KongRoutes.hostMatches(hosts, "shop.example.com")).isTrue();
    assertThat(KongRoutes.hostMatches(hosts, "a.b.example.org")).isTrue();
    assertThat(KongRoutes.hostMatches(hosts, ".example.org")).isFalse();
    assertThat(KongRoutes.hostMatches(hosts, "example.org")).isFalse();
    assertThat(KongRoutes.hostMatches(hosts, "internal.corp")).isTrue();
    assertThat(KongRoutes.hostMatches(hosts, "internal.")).isFalse();
    assertThat(KongRoutes.hostMatches(hosts, "")).isFalse();
    assertThat(KongRoutes.hostMatches(hosts, null)).isFalse();
  }

  @Test
  void aHostHeaderLosesItsPortButABareIpv6AddressStaysWhole() {
    assertThat(KongRoutes.hostWithoutPort("example.com:8443")).isEqualTo("example.com");
    assertThat(KongRoutes.hostWithoutPort("example.com")).isEqualTo("example.com");
    assertThat(KongRoutes.hostWithoutPort("[::1]:8443")).isEqualTo("::1");
    assertThat(KongRoutes.hostWithoutPort("::1")).isEqualTo("::1");
  }

  @Test
  void joinPutsExactlyOneSlashBetweenTheBasePathAndTheRest() {
    assertThat(KongRoutes.join("", "")).isEqualTo("/");
    assertThat(KongRoutes.join("", "x")).isEqualTo("/x");
    assertThat(KongRoutes.join("/base", "")).isEqualTo("/base");
    assertThat(KongRoutes.join("/base", "x")).isEqualTo("/base/x");
    assertThat(KongRoutes.join("/base/", "/x")).isEqualTo("/base/x");
  }

  @Test
  void pluginsUsedFindsPluginsAtAnyDepthEnabledOrNot() throws Exception {
    JsonNode config =
        JSON.readTree(
            ("{'plugins':[{'name':'cors'}],'services':[{'name':'s','plugins':[{'name':'acl',"
                    + "'enabled':false}],'routes':[{'name':'r','plugins':[{'name':'jwt'}]}]}],"
                    + "'consumers':[{'username':'u','plugins':[{'name':'rate-limiting'},{'id':'x'}]}]}")
                .replace('\'', '"'));
    assertThat(KongRoutes.pluginsUsed(config))
        .containsExactly("acl", "cors", "jwt", "rate-limiting");
  }

  private static void assertRefused(String json, String message) {
    assertThatThrownBy(() -> table(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
