# perl: hashes, arrays, regular expressions, sorting, string building.
cd "$1" || exit 1
perl -e '
use strict; use warnings;
my $x = 12345; my %h; my @words;
for my $i (1 .. 100000) {
    $x = ($x * 69069 + 1) % 2147483648;
    my $w = join "", map { chr(97 + ($x >> (3 * $_)) % 26) } 0 .. ($x % 9);
    push @words, $w; $h{$w}++;
}
my @top = (sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h)[0 .. 9];
print "distinct ", scalar(keys %h), " top @top\n";
my $text = join " ", @words;
my @m = ($text =~ /\b([aeiou]\w{2,4})\b/g);
print "matches ", scalar(@m), "\n";
(my $t2 = $text) =~ s/(\w)(\w*)/$2$1/g;
my $sum = 0; $sum = ($sum * 31 + ord) % 1000000007 for split //, substr($t2, 0, 200000);
print "sub hash $sum\n";
my %nested; for my $i (0 .. 50000) { push @{ $nested{$i % 97}{$i % 13} }, $i }
my $n = 0; for my $a (values %nested) { $n += scalar(@$_) for values %$a }
print "nested $n\n";
my @sorted = sort { length($a) <=> length($b) or $a cmp $b } @words[0 .. 49999];
print "sorted $sorted[0] $sorted[-1]\n";
my $big = ""; $big .= "line $_\n" for 1 .. 200000; print "big ", length($big), "\n";
'
