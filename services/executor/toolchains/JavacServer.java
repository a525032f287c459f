import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * A warm javac for one executor slot: the JDK's own compiler (javax.tools), kept loaded and JIT-compiled,
 * compiling one program per request from memory to memory. A cold {@code javac} spends most of a second
 * starting the JVM and warming up the compiler; here a HumanEvalPack program compiles in tens of
 * milliseconds, with the same compiler, options and diagnostics.
 *
 * <p>Requests on stdin, replies on stdout (big-endian, strings as length + UTF-8):
 * request = options (count, strings), file name, source; reply = status (0 compiled, 1 errors,
 * 2 the compiler failed), diagnostics text, then the class files (count, then name and bytes each).
 * Class files are named as {@code javac FILE} without {@code -d} writes them: next to the source,
 * whatever the package.
 */
public final class JavacServer {
    private JavacServer() {}

    /** The program's source, named as on the command line so diagnostics read the same. */
    static final class Source extends SimpleJavaFileObject {
        private final String name;
        private final String text;

        Source(String name, String text) {
            super(URI.create("string:///" + name), Kind.SOURCE);
            this.name = name;
            this.text = text;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return text;
        }
    }

    /** One class file javac writes, kept in memory. */
    static final class Output extends SimpleJavaFileObject {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        Output(String name) {
            super(URI.create("memory:///" + name), Kind.CLASS);
        }

        @Override
        public OutputStream openOutputStream() {
            return bytes;
        }
    }

    public static void main(String[] args) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager standard = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8);
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out));
        while (true) {
            int count;
            try {
                count = in.readInt();
            } catch (EOFException end) {
                return;
            }
            List<String> options = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                options.add(read(in));
            }
            String name = read(in);
            String text = read(in);
            Map<String, Output> classes = new LinkedHashMap<>();
            JavaFileManager files = new ForwardingJavaFileManager<JavaFileManager>(standard) {
                @Override
                public JavaFileObject getJavaFileForOutput(
                        Location location, String className, JavaFileObject.Kind kind, FileObject sibling) {
                    // javac without -d writes a class next to its source, whatever its package.
                    String file = className.substring(className.lastIndexOf('.') + 1) + kind.extension;
                    Output output = new Output(file);
                    classes.put(file, output);
                    return output;
                }
            };
            StringWriter diagnostics = new StringWriter();
            int status;
            try {
                boolean ok = javac.getTask(diagnostics, files, null, options, null, List.of(new Source(name, text))).call();
                status = ok ? 0 : 1;
            } catch (RuntimeException | Error failure) {
                status = 2;
                diagnostics.write(failure.toString());
                classes.clear();
            }
            out.writeInt(status);
            write(out, diagnostics.toString().getBytes(StandardCharsets.UTF_8));
            out.writeInt(status == 0 ? classes.size() : 0);
            if (status == 0) {
                for (Map.Entry<String, Output> entry : classes.entrySet()) {
                    write(out, entry.getKey().getBytes(StandardCharsets.UTF_8));
                    write(out, entry.getValue().bytes.toByteArray());
                }
            }
            out.flush();
        }
    }

    private static String read(DataInputStream in) throws IOException {
        byte[] bytes = new byte[in.readInt()];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static void write(DataOutputStream out, byte[] bytes) throws IOException {
        out.writeInt(bytes.length);
        out.write(bytes);
    }
}
