console.log('weir cli placeholder', process.argv.slice(2));
